"""``client.complete_data_set_registrations``: marking data sets complete for a period and org unit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from adapters.dhis2.id_schemes import IdSchemes
from adapters.dhis2.import_summary import ImportSummary
from adapters.dhis2.imports import ImportStrategy, import_params, json_body, post_import

if TYPE_CHECKING:
    from adapters.dhis2.client import Dhis2Client

Registration = Mapping[str, Any]


class CompleteDataSetRegistrations:
    """``POST /api/completeDataSetRegistrations``, reachable as ``client.complete_data_set_registrations``.

    ``registrations`` is one registration, an iterable of them, or a whole body
    (``{"completeDataSetRegistrations": [...]}``). Note DHIS2's key ``organisationUnit`` here,
    where data values say ``orgUnit``. The result is the same :class:`ImportSummary` as for
    data values, in every release's shape.

    Example::

        client.complete_data_set_registrations.post(
            {"dataSet": "VEM58nY22sO", "period": "201911", "organisationUnit": "O6uvpzGd5pu",
             "attributeOptionCombo": "HllvX50cXC0", "completed": True})
    """

    def __init__(self, client: Dhis2Client) -> None:
        self._client = client

    def post(
        self,
        registrations: Registration | Iterable[Registration],
        *,
        id_schemes: IdSchemes | None = None,
        dry_run: bool = False,
        import_strategy: ImportStrategy | None = None,
        async_: bool = False,
        params: Mapping[str, Any] | None = None,
    ) -> ImportSummary:
        query = import_params(
            dry_run=dry_run, import_strategy=import_strategy, id_schemes=id_schemes, extra=params
        )
        return post_import(
            self._client,
            "completeDataSetRegistrations",
            ImportSummary.from_body,
            body=json_body(_body(registrations)),
            params=query,
            async_=async_,
        )


def _body(registrations: Registration | Iterable[Registration]) -> dict[str, Any]:
    if isinstance(registrations, Mapping):
        if "completeDataSetRegistrations" in registrations:
            return dict(registrations)
        return {"completeDataSetRegistrations": [registrations]}
    return {"completeDataSetRegistrations": list(registrations)}
