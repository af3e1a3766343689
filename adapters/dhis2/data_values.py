"""``client.data_value_sets``: aggregate data values in JSON, XML, CSV or ADX."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import IO, TYPE_CHECKING, Any, Literal

from adapters.dhis2.id_schemes import IdSchemes
from adapters.dhis2.import_summary import ImportSummary
from adapters.dhis2.imports import Body, ImportStrategy, import_params, json_body, post_import

if TYPE_CHECKING:
    from adapters.dhis2.client import Dhis2Client

log = logging.getLogger("adapters.dhis2")

Format = Literal["json", "xml", "csv", "adx"]
CONTENT_TYPES: dict[str, str] = {
    "json": "application/json",
    "xml": "application/xml",
    "csv": "application/csv",
    "adx": "application/adx+xml",
}
DEFAULT_CHUNK_SIZE = 10_000

DataValues = Mapping[str, Any] | Iterable[Mapping[str, Any]]


class DataValueSets:
    """``POST /api/dataValueSets``, reachable as ``client.data_value_sets``.

    ``payload`` is one of:

    - a dataValueSet ``dict`` (``{"dataSet", "period", "orgUnit", "dataValues": [...]}``) or an
      iterable of data value dicts (a generator is fine): sent as JSON in posts of at most
      ``chunk_size`` values, whose results are merged into one :class:`ImportSummary` whose
      conflict ``indexes`` and ``rejected_indexes`` point into the whole input;
    - ``str`` or ``bytes`` in ``format``, or a path or binary file in ``format``: sent as is,
      streamed, in one post.

    With ``async_=True`` each post runs as a DHIS2 job, polled until it completes. A 409 from
    DHIS2 2.38+ is a result (conflicts), not an error.

    Example::

        summary = client.data_value_sets.post(
            {"dataSet": "VEM58nY22sO", "period": "201911", "orgUnit": "O6uvpzGd5pu",
             "dataValues": [{"dataElement": "BjDrgVrkBI3", "categoryOptionCombo": "oPcWGgS2Liz",
                             "value": "1000"}]})
        client.data_value_sets.post(Path("import.adx.xml"), format="adx",
                                    id_schemes=IdSchemes(id_scheme="code"), async_=True)
        client.data_value_sets.post(values_from_db(), chunk_size=5_000, dry_run=True)
    """

    def __init__(self, client: Dhis2Client) -> None:
        self._client = client

    def post(
        self,
        payload: DataValues | str | bytes | os.PathLike[str] | IO[bytes],
        *,
        format: Format = "json",
        id_schemes: IdSchemes | None = None,
        dry_run: bool = False,
        import_strategy: ImportStrategy | None = None,
        async_: bool = False,
        chunk_size: int | None = DEFAULT_CHUNK_SIZE,
        params: Mapping[str, Any] | None = None,
    ) -> ImportSummary:
        query = import_params(
            dry_run=dry_run, import_strategy=import_strategy, id_schemes=id_schemes, extra=params
        )
        if isinstance(payload, os.PathLike):
            with open(payload, "rb") as file:
                return self._post(file, format, query, async_)
        if isinstance(payload, str):
            # requests would encode a str body as Latin-1; DHIS2 reads UTF-8.
            return self._post(payload.encode(), format, query, async_)
        if isinstance(payload, bytes) or hasattr(payload, "read"):
            return self._post(payload, format, query, async_)
        if format != "json":
            raise ValueError(f"data values given as objects are sent as JSON, not {format}")
        parts = []
        for offset, chunk in _chunks(payload, chunk_size):
            log.debug("dataValueSets: posting values %d..%d", offset, offset + len(chunk["dataValues"]) - 1)
            parts.append((offset, self._post(json_body(chunk), "json", query, async_)))
        return parts[0][1] if len(parts) == 1 else ImportSummary.combine(parts)

    def _post(self, body: Body, format: Format, query: Mapping[str, Any], async_: bool) -> ImportSummary:
        return post_import(
            self._client,
            "dataValueSets",
            ImportSummary.from_body,
            body=body,
            content_type=CONTENT_TYPES[format],
            params=query,
            async_=async_,
        )


def _chunks(payload: DataValues, size: int | None) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(offset, dataValueSet)`` pieces of at most ``size`` values. Set-level keys (dataSet,
    period, orgUnit, completeDate, id schemes) go with every piece: each must stand alone, and
    registering the same completion again is harmless."""
    if isinstance(payload, Mapping):
        header = {key: value for key, value in payload.items() if key != "dataValues"}
        values: Iterable[Mapping[str, Any]] = payload.get("dataValues") or []
    else:
        header, values = {}, payload
    iterator = iter(values)
    offset, first = 0, True
    while (batch := list(islice(iterator, size))) or first:
        yield offset, {**header, "dataValues": batch}
        offset, first = offset + len(batch), False
