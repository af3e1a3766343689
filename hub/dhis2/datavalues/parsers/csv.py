"""CSV dataValueSets: DHIS2's positional columns, the first row a header unless ``firstRowIsHeader=false``.

dataelement, period, orgunit, catoptcombo, attroptcombo, value, storedby, lastupdated, comment,
followup, deleted
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import BinaryIO

from hub.dhis2.datavalues.parsers import Header, MalformedPayload, Payload, RawValue, flag

COLUMNS = 11


def _values(source: BinaryIO, skip_header: bool) -> Iterator[RawValue]:
    rows = csv.reader(io.TextIOWrapper(source, encoding="utf-8-sig", newline=""))
    try:
        if skip_header:
            next(rows, None)
        for row in rows:
            if not row or row == [""]:
                continue
            cells = [c or None for c in row[:COLUMNS]] + [None] * (COLUMNS - len(row))
            de, pe, ou, coc, aoc, value, stored_by, _updated, comment, followup, deleted = cells
            yield de, pe, ou, coc, aoc, value, comment, stored_by, flag(followup), flag(deleted), None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"invalid CSV: {exc}") from exc


def read(source: BinaryIO, params: dict[str, str]) -> Payload:
    skip_header = params.get("firstRowIsHeader", "true").lower() != "false"
    return Payload(Header(), _values(source, skip_header))
