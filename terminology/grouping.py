"""Grouping codes for aggregate reporting: a code's ancestors by kind (J18.9 → category J18,
block J09-J18, chapter X), and counts rolled up to one level, as morbidity data sets need.

It works for any code system whose concepts carry a ``kind`` property (ICD-10 does).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from terminology.catalog import LoadedSystem
from terminology.errors import InvalidParameter, UnknownCode

KIND = "kind"


def groups(system: LoadedSystem, code: str) -> dict[str, str]:
    """``{kind: ancestor code}`` for every ancestor of ``code`` that has a kind, nearest first."""
    if system.concept(code) is None:
        raise UnknownCode(
            f"code {code!r} is not in {system.url} version {system.version!r}", expression="code"
        )
    found: dict[str, str] = {}
    for ancestor in system.ancestors(code):
        entry = system.concept(ancestor)
        for kind in entry.property_values(KIND) if entry else ():
            found.setdefault(kind, ancestor)
    return found


@dataclass
class Rollup:
    totals: Counter[str] = field(default_factory=Counter)  # group code → summed count
    unknown: Counter[str] = field(default_factory=Counter)  # codes not in the code system
    ungrouped: Counter[str] = field(default_factory=Counter)  # known codes with no ancestor of that kind


def rollup(system: LoadedSystem, counts: Iterable[tuple[str, int]], *, level: str) -> Rollup:
    """Sum ``(code, count)`` pairs per ancestor of kind ``level`` (e.g. "block" or "chapter").

    A code that is itself of kind ``level`` counts for itself, so block-level data can be rolled up
    to chapters alongside code-level data.
    """
    kinds = {k for e in system.entries for k in e.property_values(KIND)}
    if level not in kinds:
        raise InvalidParameter(
            f"{system.url} has no {level!r} level; it has {', '.join(sorted(kinds)) or 'no kinds'}",
            expression="level",
        )
    result = Rollup()
    for code, count in counts:
        entry = system.concept(code)
        if entry is None:
            result.unknown[code] += count
        elif level in entry.property_values(KIND):
            result.totals[code] += count
        elif (group := groups(system, code).get(level)) is not None:
            result.totals[group] += count
        else:
            result.ungrouped[code] += count
    return result
