"""JSON dataValueSets, read in blocks (msgspec) or streamed (ijson's C backend): memory stays flat.

The set-level fields must come before ``dataValues``, as DHIS2's own streaming reader requires;
they are read in a first pass that stops at the array.

A lone surrogate escape (``"\\ud800"`` without its pair) fails the import as invalid JSON on every
path: msgspec refuses one (its block is then streamed), and what ijson reads is checked as it goes
(:class:`hub.json_text.SurrogateCheckedReader`), as yajl would make a lone high one ``?``.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any, BinaryIO

import ijson

from hub.dhis2.datavalues.parsers import (
    HEADER_FIELDS,
    ID_SCHEME_KEYS,
    Header,
    MalformedPayload,
    Payload,
    RawValue,
    field,
    flag,
    json_batches,
    text,
)
from hub.json_text import LoneSurrogateError, SurrogateCheckedReader

SCALARS = frozenset({"string", "number", "boolean", "null"})
CONTAINERS = frozenset({"start_map", "start_array"})
HEADER_KEYS = frozenset({*HEADER_FIELDS, *ID_SCHEME_KEYS, "completedDate"})
NOT_UTF8 = "the body is not UTF-8 text"


def _header(source: BinaryIO) -> Header:
    fields: dict[str, str] = {}
    try:
        events = ijson.parse(SurrogateCheckedReader(source), use_float=True)
        if next(events, (None, None, None))[1] != "start_map":
            raise MalformedPayload("a JSON dataValueSet must be an object")
        for prefix, event, value in events:
            if event == "start_array" and prefix == "dataValues":
                break
            if event in SCALARS and prefix and "." not in prefix:
                fields[prefix] = text(value) or ""
            elif event in CONTAINERS and prefix in HEADER_KEYS:
                raise MalformedPayload(
                    f"{prefix} must be text, not {'an object' if event == 'start_map' else 'an array'}"
                )
    except (ijson.JSONError, LoneSurrogateError) as exc:
        raise MalformedPayload(f"invalid JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise MalformedPayload(NOT_UTF8) from exc
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
        items = ijson.items(SurrogateCheckedReader(source), "dataValues.item", use_float=True)
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise MalformedPayload("every entry of dataValues must be an object")
            get = item.get
            yield (
                field(get("dataElement"), "dataElement", i),
                text(field(get("period"), "period", i)),
                field(get("orgUnit"), "orgUnit", i),
                field(get("categoryOptionCombo"), "categoryOptionCombo", i),
                field(get("attributeOptionCombo"), "attributeOptionCombo", i),
                field(get("value"), "value", i),
                field(get("comment"), "comment", i),
                field(get("storedBy"), "storedBy", i),
                flag(field(get("followup"), "followup", i)),
                flag(field(get("deleted"), "deleted", i)),
                None,
            )
    except (ijson.JSONError, LoneSurrogateError) as exc:
        raise MalformedPayload(f"invalid JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise MalformedPayload(NOT_UTF8) from exc


def read(source: BinaryIO, _params: dict[str, str]) -> Payload:
    header = _header(source)
    source.seek(0)
    return Payload(header, _values(source))
