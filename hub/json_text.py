"""JSON text of documents the hub did not write itself (a mediator's reply, a body, a config).

orjson first, for speed; the standard library's ``json`` where orjson refuses a valid document
(an integer past 64 bits, NaN in a body), so such a document never fails a request, or would
change it (orjson reads an integer past 64 bits as a float, dropping digits).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time
from typing import IO, Any

import orjson

BOM = b"\xef\xbb\xbf"
# 19 digits in a row: perhaps an integer past 64 bits (from -2**63 to 2**64 - 1 orjson keeps)
_LONG_DIGITS = {bytes: re.compile(rb"\d{19}"), str: re.compile(r"\d{19}")}
# a \u0000 escape, not an escaped backslash followed by "u0000": an odd number of backslashes
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
# what is left of a surrogate once a decoder has joined each pair into its character
_SURROGATE = re.compile("[\ud800-\udfff]")
# in raw JSON, a surrogate escape that may be lone (whether its backslash is escaped is left to
# check): a high one (\ud800-\udbff) not followed by a low one (\udc00-\udfff), a low one not
# after a high one, or a low one after a high one whose backslash may itself be escaped ("\\ud83d")
_SUSPECT_ESCAPE = re.compile(
    rb"""\\u[dD](?:
        [89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})
      | [c-fC-F][0-9a-fA-F]{2}(?<!\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})
      | (?P<after_high>[c-fC-F][0-9a-fA-F]{2}
            (?<=\\\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}))
    )""",
    re.VERBOSE,
)
_LOW_ESCAPE = re.compile(rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_ESCAPE = 6  # bytes of one \uXXXX escape


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


def unstorable_text(doc: Any) -> str | None:
    """What a string or key of the decoded ``doc`` holds that is not text the hub stores as given,
    or None: a NUL character (PostgreSQL's text refuses it) or a lone UTF-16 surrogate (a
    ``\\ud800`` escape without its pair: JSON's grammar lets one through, but it is no Unicode
    text, so UTF-8, both databases and the answer's own JSON refuse it)."""
    pending = [doc]
    while pending:  # a loop, not recursion: the document may nest as deep as its decoder allowed
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "a NUL character (\\u0000)"
            if not item.isascii() and _SURROGATE.search(item):
                return "a lone surrogate escape (\\ud800 to \\udfff without its pair)"
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None


class LoneSurrogateError(ValueError):
    """Raw JSON holds a lone surrogate escape: valid JSON grammar, but no Unicode text."""

    def __init__(self, escape: bytes, offset: int) -> None:
        self.offset = offset
        text = escape.decode("ascii")
        if _LOW_ESCAPE.fullmatch(escape):
            rule = "a low one (\\udc00 to \\udfff) must follow a high one (\\ud800 to \\udbff)"
        else:
            rule = "a high one (\\ud800 to \\udbff) must be followed by a low one (\\udc00 to \\udfff)"
        super().__init__(f"lone surrogate escape {text} at byte {offset}: not Unicode text, {rule}")


class SurrogateCheck:
    """Raw JSON text checked for lone surrogate escapes piece by piece, as a streaming parser reads it.

    For a decoder that does not refuse one itself: ijson's C backend (yajl) makes a lone high
    surrogate escape ``?``, and joins one to any escape that follows (``\\ud800\\u0041`` is U+10041),
    silently altering the text. Cheap: one regular expression search of each piece, which skips
    valid pairs itself; the few matches left are checked for an escaped backslash (``\\\\ud800`` is
    the text ``\\ud800``). The parser gets only text decided on: the last eleven bytes of a piece
    wait for the next one, as the escape or pair there may go on in it."""

    __slots__ = ("_offset", "_tail", "_undecided")

    def __init__(self) -> None:
        self._tail = b""  # the end of the text read so far; its first byte is not escaped
        self._undecided = 0  # where in the tail escapes are still to decide (before: context)
        self._offset = 0  # where the tail starts in the whole text

    def feed(self, piece: bytes) -> bytes:
        """Check the text's next ``piece`` (``b""`` at its end); the text now decided on, for the
        parser (all that is left at the end); :class:`LoneSurrogateError`."""
        data = self._tail + piece if self._tail else piece
        # an escape starting before ``end`` is decided now, a pair's twelve bytes all in ``data``
        end = len(data) if not piece else max(self._undecided, len(data) - (2 * _ESCAPE - 1))
        for match in _SUSPECT_ESCAPE.finditer(data, self._undecided):
            start = match.start()
            if start >= end:
                break
            if _backslashes_before(data, start) % 2:
                continue  # an escaped backslash, then text such as "ud800"
            if match.lastgroup == "after_high" and not _backslashes_before(data, start - _ESCAPE) % 2:
                continue  # the low half of a pair whose high half follows an escaped backslash
            raise LoneSurrogateError(match.group(), self._offset + start)
        decided = data[self._undecided : end]
        # kept: the undecided bytes, after the seven before them a low escape's check looks back on
        keep = max(0, end - _ESCAPE - 1)
        keep -= _backslashes_before(data, keep) % 2  # the tail must not start with an escaped byte
        self._offset += keep
        self._tail = data[keep:]
        self._undecided = end - keep
        return decided


def _backslashes_before(data: bytes, end: int) -> int:
    """How many backslashes run up to ``data[end]``, looking back in growing windows (the run may be
    long, and a slice of all the data before each escape would be quadratic)."""
    width = 16
    while True:
        window = data[max(0, end - width) : end]
        run = len(window) - len(window.rstrip(b"\\"))
        if run < len(window) or width >= end:
            return run
        width *= 4


class SurrogateCheckedReader:
    """``stream`` for a streaming JSON parser, the text checked by :class:`SurrogateCheck` before the
    parser gets it: ``read`` raises :class:`LoneSurrogateError` at a lone surrogate escape, and may
    give a few bytes fewer than it read (they come with the next read)."""

    __slots__ = ("_check", "_stream")

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._check = SurrogateCheck()

    def read(self, size: int = -1) -> bytes:
        while True:
            piece = self._stream.read(size)
            if size == 0:  # a parser asking for the type read gives, not the end of the text
                return piece
            decided = self._check.feed(piece)
            if decided or not piece:  # b"" is the end of the text, not a short piece
                return decided
