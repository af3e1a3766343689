"""DHIS2's ``fields=`` parameter: which properties of each object a response carries.

``id,name,parent[id,name]`` picks properties, nested ones in brackets; ``*`` and ``:all``
(also ``:owner``) take every property; ``:identifiable`` and ``:nameable`` the usual sets;
``!name`` drops one. Without ``fields=``, lists answer ``id,displayName`` as DHIS2 does.

Example::

    spec = parse_fields("id,parent[id],!code")
    select_fields({"id": "a", "name": "b", "parent": {"id": "p", "name": "q"}}, spec)
    # {"id": "a", "parent": {"id": "p"}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LIST_DEFAULT = "id,displayName"
ALL = frozenset({"*", ":all", ":owner"})
PRESETS = {
    ":identifiable": ("id", "name", "code", "created", "lastUpdated"),
    ":nameable": ("id", "name", "shortName", "code", "created", "lastUpdated"),
}


@dataclass
class FieldSpec:
    all: bool = False
    include: dict[str, FieldSpec | None] = field(default_factory=dict)
    exclude: set[str] = field(default_factory=set)


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in text:
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_fields(text: str) -> FieldSpec:
    """Parse a ``fields=`` value; ``ValueError`` when its brackets do not balance."""
    if text.count("[") + text.count("(") != text.count("]") + text.count(")"):
        raise ValueError(f"unbalanced brackets in fields={text!r}")
    spec = FieldSpec()
    for part in _split_top_level(text):
        if part in ALL:
            spec.all = True
        elif part in PRESETS:
            spec.include.update(dict.fromkeys(PRESETS[part]))
        elif part.startswith("!"):
            spec.exclude.add(part[1:])
        else:
            bracket = min((i for i in (part.find("["), part.find("(")) if i >= 0), default=-1)
            if bracket < 0:
                spec.include[part] = None
            else:
                spec.include[part[:bracket]] = parse_fields(part[bracket + 1 : -1])
    return spec


def select_fields(obj: dict[str, Any], spec: FieldSpec) -> dict[str, Any]:
    """``obj`` cut down to ``spec``; properties the object does not have are left out."""
    chosen: dict[str, Any] = dict(obj) if spec.all else {}
    for name, nested in spec.include.items():
        if name not in obj:
            continue
        value = obj[name]
        if nested is not None:
            value = _select_nested(value, nested)
        chosen[name] = value
    for name in spec.exclude:
        chosen.pop(name, None)
    return chosen


def _select_nested(value: Any, spec: FieldSpec) -> Any:
    if isinstance(value, dict):
        return select_fields(value, spec)
    if isinstance(value, list):
        return [select_fields(v, spec) if isinstance(v, dict) else v for v in value]
    return value
