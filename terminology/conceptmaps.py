"""Concept maps: stored as one row per source code → target, rendered back as FHIR R4 groups.

Versions: a map with a new ``version`` is stored beside the old ones; re-importing the same url
and version replaces it. ``$translate`` uses the newest version unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from terminology import resources
from terminology.catalog import version_key
from terminology.errors import InvalidResource, UnknownResource
from terminology.models import ConceptMap, ConceptMapElement

# FHIR R4 ConceptMapEquivalence
EQUIVALENCES = (
    "relatedto",
    "equivalent",
    "equal",
    "wider",
    "subsumes",
    "narrower",
    "specializes",
    "inexact",
    "unmatched",
    "disjoint",
)
NO_MATCH = frozenset({"unmatched", "disjoint"})


@dataclass(frozen=True, slots=True)
class MapRow:
    """One source code → one target; ``target_code`` is None when the source has no match."""

    source_system: str
    source_code: str
    equivalence: str
    target_system: str | None = None
    target_code: str | None = None
    source_display: str | None = None
    target_display: str | None = None
    comment: str | None = None
    source_version: str | None = None
    target_version: str | None = None


def from_groups(groups: Iterable[dict[str, Any]]) -> Iterator[MapRow]:
    """FHIR ``ConceptMap.group`` as flat mappings; an element without targets is unmatched."""
    for g, group in enumerate(groups):
        if not group.get("source"):
            raise InvalidResource(
                "every group needs a source system", expression=f"ConceptMap.group[{g}].source"
            )
        for element in group.get("element", ()):
            common = {
                "source_system": group["source"],
                "source_version": group.get("sourceVersion"),
                "source_code": element.get("code"),
                "source_display": element.get("display"),
            }
            if not element.get("target"):
                yield MapRow(equivalence="unmatched", target_system=group.get("target"), **common)
            for target in element.get("target", ()):
                yield MapRow(
                    equivalence=target.get("equivalence", "equivalent"),
                    target_system=group.get("target"),
                    target_version=group.get("targetVersion"),
                    target_code=target.get("code"),
                    target_display=target.get("display"),
                    comment=target.get("comment"),
                    **common,
                )


def save(
    session: Session,
    *,
    resource: dict[str, Any],
    rows: Iterable[MapRow] | None = None,
    resource_id: str | None = None,
    replace: bool = True,
) -> tuple[ConceptMap, bool]:
    """Create the map, or replace the one with ``resource_id`` (or, when ``replace``, the same url
    and version). ``rows``, when given, replace the resource's groups (spreadsheet imports)."""
    if rows is None:
        resource = resources.validate("ConceptMap", resource)
        rows = from_groups(resource.get("group", ()))
    row, created = resources.upsert(
        session,
        ConceptMap,
        data=resource,
        resource_id=resource_id,
        replace=replace,
        also_drop=frozenset({"group"}),
    )
    row.source_uri = resource.get("sourceUri") or resource.get("sourceCanonical")
    row.target_uri = resource.get("targetUri") or resource.get("targetCanonical")
    session.execute(delete(ConceptMapElement).where(ConceptMapElement.concept_map_id == row.id))
    values = [{"concept_map_id": row.id, "position": n, **asdict(m)} for n, m in enumerate(_checked(rows))]
    if values:
        session.execute(insert(ConceptMapElement), values)
    session.expire(row, ["elements"])
    return row, created


def _checked(rows: Iterable[MapRow]) -> Iterator[MapRow]:
    for n, mapping in enumerate(rows):
        where = f"ConceptMap element {n + 1} ({mapping.source_code!r})"
        if not mapping.source_code:
            raise InvalidResource(
                f"{where}: the source code is missing", expression="ConceptMap.group.element.code"
            )
        if mapping.equivalence not in EQUIVALENCES:
            raise InvalidResource(
                f"{where}: equivalence {mapping.equivalence!r} is not one of {', '.join(EQUIVALENCES)}",
                expression="ConceptMap.group.element.target.equivalence",
            )
        if mapping.target_code and not mapping.target_system:
            raise InvalidResource(
                f"{where}: a target code needs a target system", expression="ConceptMap.group.target"
            )
        resources.check_lengths(ConceptMapElement, asdict(mapping), where, "ConceptMap.group.element")
        yield mapping


def rows_of(session: Session, row: ConceptMap) -> list[MapRow]:
    query = (
        select(ConceptMapElement)
        .where(ConceptMapElement.concept_map_id == row.id)
        .order_by(ConceptMapElement.position)
    )
    names = [f.name for f in fields(MapRow)]
    return [MapRow(**{name: getattr(e, name) for name in names}) for e in session.scalars(query)]


def render(session: Session, row: ConceptMap) -> dict[str, Any]:
    """FHIR R4 JSON: one group per (source system, target system) pair, in first-seen order."""
    body = resources.render(row, "ConceptMap")
    if row.source_uri:
        body["sourceUri"] = row.source_uri
    if row.target_uri:
        body["targetUri"] = row.target_uri
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    elements: dict[tuple[Any, ...], dict[str, Any]] = {}
    for m in rows_of(session, row):
        key = (m.source_system, m.source_version, m.target_system, m.target_version)
        group = groups.get(key)
        if group is None:
            pairs = zip(("source", "sourceVersion", "target", "targetVersion"), key, strict=True)
            group = groups[key] = {k: v for k, v in pairs if v} | {"element": []}
        element = elements.get((*key, m.source_code))
        if element is None:
            element = elements[(*key, m.source_code)] = {"code": m.source_code} | _some(
                display=m.source_display
            )
            element["target"] = []
            group["element"].append(element)
        element["target"].append(
            _some(code=m.target_code, display=m.target_display)
            | {"equivalence": m.equivalence}
            | _some(comment=m.comment)
        )
    if groups:
        body["group"] = list(groups.values())
    return body


def _some(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v}


def find(session: Session, *, url: str, version: str | None = None) -> ConceptMap:
    """The map ``url`` in ``version`` (default: the newest)."""
    rows = list(session.scalars(select(ConceptMap).where(ConceptMap.url == url)))
    if not rows:
        raise UnknownResource(f"concept map {url} is not known to this server", expression="url")
    if version is None:
        return max(rows, key=lambda r: version_key(r.version))
    for row in rows:
        if row.version == version:
            return row
    known = ", ".join(repr(r.version) for r in rows)
    raise UnknownResource(
        f"concept map {url} has no version {version!r} (known: {known})", expression="conceptMapVersion"
    )
