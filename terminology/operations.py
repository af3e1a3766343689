"""CodeSystem operations over the catalog: $lookup, $validate-code and $subsumes.

They return plain results; the FHIR edge renders them as ``Parameters``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from terminology import grouping
from terminology.catalog import Entry, LoadedSystem
from terminology.errors import UnknownCode

# always-present properties of $lookup, beside each concept's own
PARENT, CHILD = "parent", "child"


@dataclass
class LookupResult:
    system: LoadedSystem
    entry: Entry
    properties: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (code, {"valueX": v})


@dataclass
class ValidationResult:
    result: bool
    message: str | None = None
    display: str | None = None
    code: str | None = None
    system: LoadedSystem | None = None


def describe(system: LoadedSystem) -> str:
    return f"{system.url} version {system.version!r}" if system.version else system.url


def concept(system: LoadedSystem, code: str, *, expression: str = "code") -> Entry:
    """The concept ``code`` of ``system``, or an UnknownCode error about parameter ``expression``."""
    entry = system.concept(code)
    if entry is None:
        raise UnknownCode(f"code {code!r} is not in code system {describe(system)}", expression=expression)
    return entry


def _value(prop: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in prop.items() if k.startswith("value")}


def lookup(system: LoadedSystem, code: str, *, properties: Collection[str] = ()) -> LookupResult:
    """Display, definition, designations and properties of ``code``: its own, ``parent``,
    ``child`` and, where the code system has kinds, the groups it belongs to (``block``,
    ``chapter``). ``properties`` limits which are returned (all when empty)."""
    entry = concept(system, code)
    found: list[tuple[str, dict[str, Any]]] = [(p["code"], _value(p)) for p in entry.properties]
    if entry.parent is not None:
        found.append((PARENT, {"valueCode": entry.parent}))
    found += [(CHILD, {"valueCode": child}) for child in system.children(code)]
    found += [(kind, {"valueCode": group}) for kind, group in grouping.groups(system, code).items()]
    if properties:
        found = [(name, value) for name, value in found if name in properties]
    return LookupResult(system, entry, found)


def validate_code(system: LoadedSystem, code: str, *, display: str | None = None) -> ValidationResult:
    """Whether ``code`` is in ``system`` and, when given, ``display`` is its display (any case)."""
    entry = system.concept(code)
    if entry is None:
        return ValidationResult(
            False, f"Unknown code {code!r} in code system {describe(system)}", code=code, system=system
        )
    if display is not None and entry.display is not None and display.casefold() != entry.display.casefold():
        return ValidationResult(
            False,
            f"Wrong display {display!r} for code {code!r} in {describe(system)}: should be {entry.display!r}",
            entry.display,
            code,
            system,
        )
    return ValidationResult(True, None, entry.display, code, system)


def subsumes(system: LoadedSystem, code_a: str, code_b: str) -> str:
    """FHIR's concept-subsumption-outcome of A relative to B."""
    concept(system, code_a, expression="codeA")
    concept(system, code_b, expression="codeB")
    if code_a == code_b:
        return "equivalent"
    if code_a in system.ancestors(code_b):
        return "subsumes"
    if code_b in system.ancestors(code_a):
        return "subsumed-by"
    return "not-subsumed"
