"""JSON text of documents the hub did not write itself (a mediator's reply, a body, a config).

orjson first, for speed; the standard library's ``json`` where orjson refuses a valid document
(an integer past 64 bits, NaN in a body), so such a document never fails a request, or would
change it (orjson reads an integer past 64 bits as a float, dropping digits).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time
from typing import Any

import orjson

BOM = b"\xef\xbb\xbf"
# 19 digits in a row: perhaps an integer past 64 bits (from -2**63 to 2**64 - 1 orjson keeps)
_LONG_DIGITS = {bytes: re.compile(rb"\d{19}"), str: re.compile(r"\d{19}")}
# a \u0000 escape, not an escaped backslash followed by "u0000": an odd number of backslashes
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
# what is left of a surrogate once a decoder has joined each pair into its character
_SURROGATE = re.compile("[\ud800-\udfff]")


def _as_orjson_writes(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(doc: Any, *, option: int | None = None) -> bytes:
    """``doc`` as compact UTF-8 JSON, all its integers' digits kept."""
    try:
        return orjson.dumps(doc, option=option)
    except orjson.JSONEncodeError:
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=_as_orjson_writes)
        # a lone surrogate (which orjson refuses too) is written as its JSON escape
        return text.encode("utf-8", "backslashreplace")


def loads(data: bytes | str) -> Any:
    """The document in ``data`` (after any UTF-8 byte order mark); ValueError when it is not JSON.
    The standard library reads what orjson refuses but JSON's writers commonly send (NaN, Infinity),
    and a document that may hold an integer past 64 bits, which it keeps whole."""
    data = data.removeprefix(BOM if isinstance(data, bytes) else "\ufeff")
    if _LONG_DIGITS[type(data)].search(data) is None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


def without_nul(text: str) -> str:
    """JSON text with each \\u0000 escape made U+FFFD: PostgreSQL refuses NUL in text and jsonb,
    and both backends must store the same document."""
    return _NUL_ESCAPE.sub(r"\1\\ufffd", text) if "\\u0000" in text else text


def lone_surrogate(doc: Any) -> bool:
    """Whether a string or key of the decoded ``doc`` holds a lone UTF-16 surrogate (a ``\\ud800``
    escape without its pair): JSON's grammar lets one through, but it is no Unicode text, so UTF-8,
    both databases and the answer's own JSON refuse it (orjson refuses it as it reads)."""
    pending = [doc]
    while pending:  # a loop, not recursion: the document may nest as deep as its decoder allowed
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
