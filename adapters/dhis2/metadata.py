"""``client.metadata``: exporting and importing DHIS2 metadata through ``/api/metadata``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from adapters.dhis2.import_report import ImportReport
from adapters.dhis2.imports import ImportStrategy, json_body, post_import
from adapters.dhis2.paging import Fields, query

if TYPE_CHECKING:
    from adapters.dhis2.client import Dhis2Client

ImportMode = Literal["COMMIT", "VALIDATE"]
Identifier = Literal["UID", "CODE", "AUTO"]
AtomicMode = Literal["ALL", "NONE"]


class Metadata:
    """``GET`` and ``POST /api/metadata``, reachable as ``client.metadata``.

    Example::

        doc = client.metadata.export("dataElements", "dataSets", fields=":owner")
        report = client.metadata.import_(doc, import_mode="VALIDATE")
        report = client.metadata.import_({"organisationUnits": units}, atomic_mode="NONE", async_=True)
    """

    def __init__(self, client: Dhis2Client) -> None:
        self._client = client

    def export(
        self, *types: str, fields: Fields = None, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The metadata of the given ``types`` (all of them if none given): ``{type: [objects]}``.
        Per-type options go in ``params`` (``{"dataElements:filter": "code:like:MAL"}``)."""
        return self._client.get(
            "metadata", params=query(fields, None, {**dict.fromkeys(types, "true"), **(params or {})})
        )

    def import_(
        self,
        payload: Mapping[str, Any],
        *,
        import_mode: ImportMode = "COMMIT",
        identifier: Identifier = "UID",
        import_strategy: ImportStrategy = "CREATE_AND_UPDATE",
        atomic_mode: AtomicMode = "ALL",
        async_: bool = False,
        params: Mapping[str, Any] | None = None,
    ) -> ImportReport:
        """Import ``payload`` (``{"dataElements": [...], ...}``). With ``atomic_mode="ALL"`` one
        invalid object stops the whole import; the report says which and why."""
        query_params = {
            "importMode": import_mode,
            "identifier": identifier,
            "importStrategy": import_strategy,
            "atomicMode": atomic_mode,
            **(params or {}),
        }
        return post_import(
            self._client,
            "metadata",
            ImportReport.from_body,
            body=json_body(payload),
            params=query_params,
            async_=async_,
            idempotent=_identified(payload, identifier),
        )


_IDENTIFIER_KEYS = {"UID": ("id",), "CODE": ("code",), "AUTO": ("id", "code")}


def _identified(payload: Mapping[str, Any], identifier: Identifier) -> bool:
    """True when every object names its identity, so a resend after a lost reply updates
    rather than creating the object a second time."""
    keys = _IDENTIFIER_KEYS[identifier]
    return all(
        any(obj.get(key) for key in keys)
        for objects in payload.values()
        if isinstance(objects, list)
        for obj in objects
        if isinstance(obj, Mapping)
    )
