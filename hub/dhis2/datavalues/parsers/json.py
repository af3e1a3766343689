"""JSON dataValueSets, read in blocks (msgspec) or streamed (ijson's C backend): memory stays flat.

The set-level fields must come before ``dataValues``, as DHIS2's own streaming reader requires;
they are read in a first pass that stops at the array.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any, BinaryIO

import ijson

from hub.dhis2.datavalues.parsers import Header, MalformedPayload, Payload, RawValue, flag, json_batches, text

SCALARS = frozenset({"string", "number", "boolean", "null"})


def _header(source: BinaryIO) -> Header:
    fields: dict[str, str] = {}
    try:
        for prefix, event, value in ijson.parse(source, use_float=True):
            if event == "start_array" and prefix == "dataValues":
                break
            if event in SCALARS and prefix and "." not in prefix:
                fields[prefix] = text(value) or ""
    except ijson.JSONError as exc:
        raise MalformedPayload(f"invalid JSON: {exc}") from exc
    return Header.from_fields(fields)


def _values(source: BinaryIO) -> Iterator[RawValue]:
    """Decoded a block at a time when the payload allows (see :mod:`.json_batches`), else streamed."""
    given = 0
    try:
        for item in json_batches.values(source):
            value = item.value
            yield (
                item.dataElement, text(item.period), item.orgUnit, item.categoryOptionCombo,
                item.attributeOptionCombo, value if type(value) is str else text(value),
                item.comment, item.storedBy, flag(item.followup), flag(item.deleted), None,
            )  # fmt: skip
            given += 1
    except json_batches.Unsure:
        source.seek(0)
        yield from islice(_streamed(source), given, None)


def _streamed(source: BinaryIO) -> Iterator[RawValue]:
    try:
        item: dict[str, Any]
        for item in ijson.items(source, "dataValues.item", use_float=True):
            if not isinstance(item, dict):
                raise MalformedPayload("every entry of dataValues must be an object")
            get = item.get
            value = get("value")
            yield (
                get("dataElement"), text(get("period")), get("orgUnit"),
                get("categoryOptionCombo"), get("attributeOptionCombo"),
                value if type(value) is str else text(value),
                get("comment"), get("storedBy"), flag(get("followup")), flag(get("deleted")), None,
            )  # fmt: skip
    except ijson.JSONError as exc:
        raise MalformedPayload(f"invalid JSON: {exc}") from exc


def read(source: BinaryIO, _params: dict[str, str]) -> Payload:
    header = _header(source)
    source.seek(0)
    return Payload(header, _values(source))
