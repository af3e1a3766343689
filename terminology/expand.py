"""ValueSet $expand and $validate-code: evaluate a ``compose`` against the catalog, search it, page it.

Besides stored value sets, every code system has FHIR's implicit value sets:
``{system}?fhir_vs`` (all its codes) and ``{system}?fhir_vs=isa/{code}`` (a code and its
descendants). Membership of a value set is computed once per catalog snapshot and cached, so a
search over it is the code system's index search plus a set look-up per hit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from terminology.catalog import Catalog, Entry, LoadedSystem, ValueSetDefinition
from terminology.errors import InvalidParameter, InvalidResource, MissingParameter, NotSupported, UnknownCode
from terminology.operations import ValidationResult, describe, validate_code

HIERARCHY = ("concept", "code")  # the property names FHIR uses for hierarchy filters
MAX_CACHED = 256  # memberships kept per catalog snapshot


@dataclass(frozen=True)
class Definition:
    """What to expand: a stored or inline value set, or an implicit one (``resource`` is then built)."""

    url: str | None
    version: str | None
    resource: dict[str, Any]
    cache_key: tuple[Any, ...] | None  # None for inline value sets, which are not cached
    stored: ValueSetDefinition | None = None


@dataclass
class Members:
    items: list[tuple[LoadedSystem, Entry]]
    codes: dict[int, set[str]] = field(default_factory=dict)  # code system id → codes in the value set
    whole: set[int] = field(default_factory=set)  # code systems included entirely (no set look-up needed)
    by_id: dict[int, LoadedSystem] = field(default_factory=dict)  # the code systems drawn on, in order

    def __contains__(self, member: tuple[LoadedSystem, str]) -> bool:
        system, code = member
        return (system.id in self.whole and code in system.by_code) or code in self.codes.get(system.id, ())

    @property
    def systems(self) -> list[LoadedSystem]:
        return list(self.by_id.values())


@dataclass
class Expansion:
    definition: Definition
    total: int
    offset: int
    items: list[tuple[LoadedSystem, Entry]]
    systems: list[LoadedSystem]


# -- which value set ------------------------------------------------------------------------------


def implicit(catalog: Catalog, url: str, *, system_version: str | None = None) -> Definition | None:
    """The definition behind ``{system}?fhir_vs[=isa/code]``, or None when ``url`` is not one."""
    base, _, query = url.partition("?")
    if not query.startswith("fhir_vs"):
        return None
    system = catalog.system(base, system_version)
    include: dict[str, Any] = {"system": system.url, "version": system.version}
    if query != "fhir_vs":
        match = re.fullmatch(r"fhir_vs=isa/(.+)", query)
        if match is None:
            raise NotSupported(
                f"implicit value set {url!r}: only ?fhir_vs and ?fhir_vs=isa/CODE exist", expression="url"
            )
        include["filter"] = [{"property": "concept", "op": "is-a", "value": match.group(1)}]
    resource = {"resourceType": "ValueSet", "url": url, "status": "active", "compose": {"include": [include]}}
    return Definition(url, system.version or None, resource, ("implicit", url, system.id, system.revision))


def definition(
    catalog: Catalog,
    *,
    url: str | None = None,
    version: str | None = None,
    resource_id: str | None = None,
    inline: dict[str, Any] | None = None,
    system_versions: Mapping[str, str] | None = None,
) -> Definition:
    """The value set a request names, by url (stored or implicit), id, or given inline."""
    if inline is not None:
        if "compose" not in inline:
            raise InvalidResource("the valueSet parameter has no compose to expand", expression="valueSet")
        return Definition(inline.get("url"), inline.get("version"), inline, None)
    if resource_id is not None:
        stored = catalog.value_set_by_id(resource_id)
    elif url is not None:
        found = implicit(catalog, url, system_version=(system_versions or {}).get(url.partition("?")[0]))
        if found is not None:
            return found
        stored = catalog.value_set(url, version)
    else:
        raise MissingParameter(
            "name the value set: url, an id in the path, or a valueSet resource", expression="url"
        )
    header = {"url": stored.url, "version": stored.version, "name": stored.name, "title": stored.title}
    resource = stored.resource | {k: v for k, v in header.items() if v} | {"status": stored.status}
    return Definition(
        stored.url, stored.version or None, resource, ("stored", stored.id, stored.revision), stored
    )


# -- membership ----------------------------------------------------------------------------------


def members(
    catalog: Catalog, value_set: Definition, *, system_versions: Mapping[str, str] | None = None
) -> Members:
    """Every (code system, concept) in ``value_set``, in definition order; cached per snapshot."""
    overrides = dict(system_versions or {})
    key = None if value_set.cache_key is None else (*value_set.cache_key, tuple(sorted(overrides.items())))
    cache = catalog.cache()
    if key is not None and key in cache:
        return cache[key]
    compose = value_set.resource.get("compose") or {}
    result = Members([])
    seen: set[tuple[int, str]] = set()
    for number, include in enumerate(compose.get("include", ())):
        system, entries, whole = _select(catalog, include, overrides, f"ValueSet.compose.include[{number}]")
        result.by_id.setdefault(system.id, system)
        if whole:
            result.whole.add(system.id)
        codes = result.codes.setdefault(system.id, set())
        for entry in entries:
            if (system.id, entry.code) not in seen:
                seen.add((system.id, entry.code))
                codes.add(entry.code)
                result.items.append((system, entry))
    for number, exclude in enumerate(compose.get("exclude", ())):
        system, entries, _ = _select(catalog, exclude, overrides, f"ValueSet.compose.exclude[{number}]")
        dropped = {e.code for e in entries}
        result.whole.discard(system.id)
        result.codes.get(system.id, set()).difference_update(dropped)
        result.items = [(s, e) for s, e in result.items if s.id != system.id or e.code not in dropped]
    for system_id in result.whole:
        result.codes.pop(system_id, None)  # the whole code system: look codes up in it directly
    if key is not None:
        if len(cache) >= MAX_CACHED:
            cache.clear()  # many distinct isa/ branches asked for: start afresh rather than grow
        cache[key] = result
    return result


def _select(
    catalog: Catalog, rule: dict[str, Any], overrides: Mapping[str, str], where: str
) -> tuple[LoadedSystem, list[Entry], bool]:
    if rule.get("valueSet"):
        raise NotSupported(
            f"{where}.valueSet: value sets built from other value sets are not supported", expression=where
        )
    if not rule.get("system"):
        raise InvalidResource(f"{where} names no system", expression=f"{where}.system")
    system = catalog.system(rule["system"], rule.get("version") or overrides.get(rule["system"]))
    if rule.get("concept"):
        entries = []
        for number, listed in enumerate(rule["concept"]):
            entry = system.concept(listed["code"])
            if entry is None:
                raise UnknownCode(
                    f"{where}.concept[{number}]: code {listed['code']!r} is not in {describe(system)}",
                    expression=f"{where}.concept[{number}].code",
                )
            entries.append(entry)
        return system, entries, False
    entries = system.entries
    for number, rule_filter in enumerate(rule.get("filter", ())):
        entries = list(_filter(system, entries, rule_filter, f"{where}.filter[{number}]"))
    return system, entries, not rule.get("filter")


def _filter(system: LoadedSystem, entries: list[Entry], rule: dict[str, Any], where: str) -> Iterable[Entry]:
    prop, op, value = rule.get("property"), rule.get("op"), rule.get("value", "")
    if prop in HIERARCHY and op in ("is-a", "descendent-of", "is-not-a"):
        if system.concept(value) is None:
            raise UnknownCode(
                f"{where}: code {value!r} is not in {describe(system)}", expression=f"{where}.value"
            )
        below = set(system.descendants(value))
        if op == "descendent-of":
            return (e for e in entries if e.code in below)
        below.add(value)
        if op == "is-a":
            return (e for e in entries if e.code in below)
        return (e for e in entries if e.code not in below)
    if op == "=":
        return (e for e in entries if value in _values(e, prop))
    if op == "in":
        wanted = {v.strip() for v in value.split(",")}
        return (e for e in entries if wanted & set(_values(e, prop)))
    if op == "regex":
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise InvalidResource(
                f"{where}: bad regex {value!r}: {exc}", expression=f"{where}.value"
            ) from exc
        return (e for e in entries if any(pattern.fullmatch(v) for v in _values(e, prop)))
    if op == "exists":
        return (e for e in entries if bool(_values(e, prop)) == (value == "true"))
    raise NotSupported(
        f"{where}: filter op {op!r} on property {prop!r} is not supported", expression=f"{where}.op"
    )


def _values(entry: Entry, prop: str | None) -> list[str]:
    """The values of ``prop`` on ``entry`` as strings (booleans as FHIR writes them)."""
    if prop in HIERARCHY:
        return [entry.code]
    if prop == "display":
        return [entry.display] if entry.display else []
    if prop == "parent":
        return [entry.parent] if entry.parent else []
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in entry.property_values(prop or "")]


# -- the operations ------------------------------------------------------------------------------


def expand(
    catalog: Catalog,
    value_set: Definition,
    *,
    text: str | None = None,
    offset: int = 0,
    count: int | None = None,
    system_versions: Mapping[str, str] | None = None,
) -> Expansion:
    """The value set's concepts, those matching ``text`` best first when it is given, paged."""
    if offset < 0 or (count is not None and count < 0):
        raise InvalidParameter(
            "offset and count must not be negative", expression="offset" if offset < 0 else "count"
        )
    found = members(catalog, value_set, system_versions=system_versions)
    if text and text.strip():
        items = [(s, e) for s in found.systems for e in s.search(text) if (s, e.code) in found]
    else:
        items = found.items
    end = None if count is None else offset + count
    return Expansion(value_set, len(items), offset, items[offset:end], found.systems)


def validate_in(
    catalog: Catalog,
    value_set: Definition,
    *,
    code: str,
    system: str | None,
    version: str | None = None,
    display: str | None = None,
    system_versions: Mapping[str, str] | None = None,
) -> ValidationResult:
    """Whether ``system|code`` is in the value set (and ``display`` right for it)."""
    found = members(catalog, value_set, system_versions=system_versions)
    if system is None:
        if len(found.systems) != 1:
            raise MissingParameter(
                "system is required: the value set draws on several code systems", expression="system"
            )
        system = found.systems[0].url
    loaded = catalog.system(system, version or (system_versions or {}).get(system))
    if (loaded, code) not in found:
        known = validate_code(loaded, code)
        why = "is not in the value set" if known.result else f"is not a code of {describe(loaded)}"
        return ValidationResult(
            False,
            f"{code!r} from {loaded.url} {why} {value_set.url or ''}".strip(),
            known.display,
            code,
            loaded,
        )
    return validate_code(loaded, code, display=display)
