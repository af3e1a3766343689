"""Channel regexes (``url_pattern``, ``path_transform``): Python regex syntax, run by the ``regex``
package under a time limit, because they meet paths from clients no one has authenticated yet and
one catastrophic pattern (``(a|aa)+$``) would otherwise hold the event loop for as long as it likes."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import regex

# Far above any sane pattern's cost on a path (microseconds), far below a frozen gateway.
MATCH_TIMEOUT_S = 0.1

T = TypeVar("T")


def within_limit(run: Callable[[float], T]) -> T:
    """``run(timeout)`` with :data:`MATCH_TIMEOUT_S`, tried once more when it runs out of time.

    The limit is wall time: a process the host holds back (busy cores, a VM's steal) can run out
    of it on the simplest pattern, and a request would then miss its channel. A catastrophic
    pattern runs out of it twice, and raises TimeoutError.
    """
    try:
        return run(MATCH_TIMEOUT_S)
    except TimeoutError:
        return run(MATCH_TIMEOUT_S)


def compiled(pattern: str, what: str) -> regex.Pattern[str]:
    """``pattern`` compiled; a ValueError naming ``what`` when it is not a valid regex."""
    try:
        return regex.compile(pattern)
    except regex.error as exc:
        raise ValueError(f"{what} is not a valid regex: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Sed:
    """A compiled ``s/from/to/[g]``; ``count`` 0 replaces every match."""

    pattern: regex.Pattern[str]
    replacement: str
    count: int

    def apply(self, path: str) -> str:
        """``path`` rewritten; TimeoutError when the pattern runs out of time (:func:`within_limit`)."""
        return within_limit(
            lambda timeout: self.pattern.sub(self.replacement, path, count=self.count, timeout=timeout)
        )


def _check_replacement(pattern: regex.Pattern[str], replacement: str) -> None:
    """Expand ``replacement`` against a match with ``pattern``'s groups, so that a reference to a
    group it lacks, or a bad escape, is refused now rather than failing every request."""
    names = {number: name for name, number in pattern.groupindex.items()}
    groups = "".join(f"(?P<{names[n]}>)" if n in names else "()" for n in range(1, pattern.groups + 1))
    empty = regex.compile(groups).match("")
    assert empty is not None  # every group matches the empty string
    try:
        empty.expand(replacement)
    except (regex.error, IndexError) as exc:
        raise ValueError(f"path_transform replacement {replacement!r} is not valid: {exc}") from exc


@lru_cache(maxsize=256)
def parse_sed(expr: str) -> Sed:
    """``s/from/to/`` or ``s/from/to/g``, checked whole: pattern, replacement and flags."""
    if len(expr) < 4 or expr[0] != "s":
        raise ValueError(f"path_transform must look like s/from/to/ : {expr!r}")
    delimiter = expr[1]
    # split on unescaped delimiters; an escaped one (\/) stands for itself
    parts = [
        p.replace("\\" + delimiter, delimiter) for p in re.split(r"(?<!\\)" + re.escape(delimiter), expr[2:])
    ]
    if len(parts) != 3 or parts[2] not in ("", "g"):
        raise ValueError(f"path_transform must look like s/from/to/ or s/from/to/g : {expr!r}")
    pattern = compiled(parts[0], "path_transform pattern")
    _check_replacement(pattern, parts[1])
    return Sed(pattern, parts[1], 0 if parts[2] == "g" else 1)
