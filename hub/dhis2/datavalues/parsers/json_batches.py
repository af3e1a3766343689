"""The fast path for JSON dataValueSets: the ``dataValues`` array decoded by msgspec a block at a time.

An event-driven streaming parser costs ~2 µs a value in Python objects; msgspec decodes a megabyte
of array items at ~0.4 µs a value. The array is cut at a comma after a ``}``, and the cut is kept
only when ``[`` + the items before it + ``]`` decodes as a list of objects, which proves it fell
between two items (a cut inside a string or a nested value cannot decode). The bytes before the
array and after it are checked the same way, so a payload this path accepts is valid JSON.

Whenever it cannot be sure (malformed or unusual JSON, an item bigger than :data:`MAX_BUFFER`,
``dataValues`` named again after the array) it raises :class:`Unsure`, and the caller reads the
payload again with the streaming parser, which gives its usual values and errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO

import msgspec

BLOCK = 1024 * 1024
MAX_BUFFER = 64 * 1024 * 1024
TRIES = 8  # cut points tried per block before reading more
ARRAY = re.compile(rb'"dataValues"\s*:\s*\[')


class Unsure(Exception):
    """This payload is for the streaming parser."""


Scalar = str | int | float | bool | None


class Value(msgspec.Struct, gc=False):
    """One ``dataValues`` entry, as far as this path takes it: ids and texts as strings, the others
    as any JSON scalar; anything else (a number for an id, an array) is the streaming parser's, which
    coerces or refuses it with a message naming the field."""

    dataElement: str | None = None  # noqa: N815 - DHIS2's field names
    period: Scalar = None
    orgUnit: str | None = None  # noqa: N815
    categoryOptionCombo: str | None = None  # noqa: N815
    attributeOptionCombo: str | None = None  # noqa: N815
    value: Scalar = None
    comment: str | None = None
    storedBy: str | None = None  # noqa: N815
    followup: Scalar = None
    deleted: Scalar = None


ITEMS = msgspec.json.Decoder(list[Value])
# msgspec.ValidationError is a DecodeError; bytes that are not UTF-8 and deep nesting raise their own
UNDECODABLE = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
REST = msgspec.json.Decoder()


def values(source: BinaryIO) -> Iterator[Value]:
    """The entries of the top-level ``dataValues`` array, in order; raises :class:`Unsure`."""
    source.seek(0)
    buffer = source.read(BLOCK)
    start = ARRAY.search(buffer)
    if start is None or not _decodes(REST, buffer[: start.end()] + b"]}"):
        raise Unsure
    buffer = buffer[start.end() :]
    cut = False
    while block := source.read(BLOCK):
        buffer += block
        found = _items(buffer, b",", len(buffer))
        if found is None:
            if len(buffer) > MAX_BUFFER:
                raise Unsure
            continue
        items, buffer = found
        cut = True
        yield from items
    yield from _last(buffer, after_comma=cut)


def _last(buffer: bytes, *, after_comma: bool) -> list[Value]:
    """The items up to the array's ``]``, once the rest of the payload is in ``buffer``."""
    if after_comma or not buffer.strip().startswith(b"]"):  # "[..., ]" is not JSON
        found = _items(buffer, b"]", len(buffer))
        if found is None:
            raise Unsure
        items, tail = found
    else:
        items, tail = [], buffer.strip()[1:]
    if b"dataValues" in tail or not _decodes(REST, b'{"x":[]' + tail):
        raise Unsure
    return items


def _items(buffer: bytes, separator: bytes, end: int) -> tuple[list[Value], bytes] | None:
    """(items before the last ``}`` + ``separator`` that decode, what follows it), or None."""
    for _ in range(TRIES):
        cut = buffer.rfind(separator, 0, end)
        if cut < 0:
            return None
        end = cut
        if not buffer[max(0, cut - 64) : cut].rstrip().endswith(b"}"):
            continue
        try:
            return ITEMS.decode(b"[" + buffer[:cut] + b"]"), buffer[cut + 1 :]
        except UNDECODABLE:
            continue
    return None


def _decodes(decoder: msgspec.json.Decoder[Any], data: bytes) -> bool:
    try:
        decoder.decode(data)
    except UNDECODABLE:
        return False
    return True
