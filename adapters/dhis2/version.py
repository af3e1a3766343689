"""DHIS2 release numbers: ``2.41.1``, ``2.40.4.1``, ``2.42-SNAPSHOT`` …"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import total_ordering

_PATTERN = re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-_ ]?(.*))?$")


@total_ordering
@dataclass(frozen=True, eq=False)
class Dhis2Version:
    """A parsed DHIS2 version, comparable with another version, a string or a tuple.

    The label (``SNAPSHOT``, ``rc1``, ``EMBARGOED``) is kept for display but ignored in
    comparisons: version-dependent behaviour follows the numbers.

    Example::

        v = Dhis2Version.parse("2.40.4.1")
        v.minor                      # 40
        v >= "2.38" and v < (2, 41)  # True
        str(v)                       # '2.40.4.1'
    """

    major: int
    minor: int
    patch: int = 0
    hotfix: int = 0
    label: str = field(default="")

    @classmethod
    def parse(cls, text: str) -> Dhis2Version:
        match = _PATTERN.match(text or "")
        if not match:
            raise ValueError(f"not a DHIS2 version: {text!r}")
        major, minor, patch, hotfix, label = match.groups()
        return cls(int(major), int(minor), int(patch or 0), int(hotfix or 0), (label or "").strip())

    @property
    def key(self) -> tuple[int, int, int, int]:
        return self.major, self.minor, self.patch, self.hotfix

    def __eq__(self, other: object) -> bool:
        other_key = _key(other)
        return NotImplemented if other_key is None else self.key == other_key

    def __lt__(self, other: object) -> bool:
        other_key = _key(other)
        return NotImplemented if other_key is None else self.key < other_key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        numbers = f"{self.major}.{self.minor}.{self.patch}" + (f".{self.hotfix}" if self.hotfix else "")
        return f"{numbers}-{self.label}" if self.label else numbers


def _key(other: object) -> tuple[int, int, int, int] | None:
    if isinstance(other, Dhis2Version):
        return other.key
    if isinstance(other, str):
        return Dhis2Version.parse(other).key
    if isinstance(other, tuple) and all(isinstance(part, int) for part in other):
        return (*other, 0, 0, 0, 0)[:4]
    return None
