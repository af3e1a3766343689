"""Code systems: create, replace, import and render them; concepts are stored flat with their parent.

A FHIR CodeSystem may give its hierarchy by nesting concepts or by a ``parent`` property; both
become ``parent_code``, and rendering nests concepts again. Re-importing a resource with the same
url and version replaces it; a new version is stored beside the old ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from terminology import resources
from terminology.errors import InvalidResource
from terminology.models import CodeSystem, Concept

BATCH = 2000
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}
Progress = Callable[[int], None]  # called with the number of concepts just written


@dataclass(frozen=True, slots=True)
class ConceptRow:
    code: str
    display: str | None = None
    definition: str | None = None
    parent: str | None = None
    properties: list[dict[str, Any]] | None = None
    designations: list[dict[str, Any]] | None = None


def flatten(concepts: Iterable[dict[str, Any]], parent: str | None = None) -> Iterator[ConceptRow]:
    """FHIR ``CodeSystem.concept`` (nested or with ``parent`` properties) as rows, parents first."""
    for concept in concepts:
        own = [p for p in concept.get("property", ()) if p.get("code") != "parent"]
        declared = next(
            (p.get("valueCode") for p in concept.get("property", ()) if p.get("code") == "parent"), None
        )
        yield ConceptRow(
            code=concept["code"],
            display=concept.get("display"),
            definition=concept.get("definition"),
            parent=parent or declared,
            properties=own or None,
            designations=concept.get("designation") or None,
        )
        yield from flatten(concept.get("concept", ()), concept["code"])


def store(
    session: Session, *, row: CodeSystem, concepts: Iterable[ConceptRow], progress: Progress | None = None
) -> int:
    """Replace the concepts of ``row`` in bulk; returns how many were written."""
    session.execute(delete(Concept).where(Concept.code_system_id == row.id))
    seen: set[str] = set()
    count = 0
    rows = iter(concepts)
    while batch := list(islice(rows, BATCH)):
        values = []
        for concept in batch:
            if concept.code in seen:
                raise InvalidResource(
                    f"code {concept.code!r} appears twice in {row.url}", expression="CodeSystem.concept"
                )
            seen.add(concept.code)
            texts = {"code": concept.code, "display": concept.display, "parent_code": concept.parent}
            resources.check_lengths(Concept, texts, f"concept {concept.code[:64]!r}", "CodeSystem.concept")
            values.append(
                {
                    "code_system_id": row.id,
                    **texts,
                    "definition": concept.definition,
                    "position": count + len(values),
                    "properties": concept.properties,
                    "designations": concept.designations,
                }
            )
        session.execute(insert(Concept), values)
        count += len(values)
        if progress:
            progress(len(values))
    return count


def save(
    session: Session,
    *,
    resource: dict[str, Any],
    concepts: Iterable[ConceptRow] | None = None,
    resource_id: str | None = None,
    replace: bool = True,
    progress: Progress | None = None,
) -> tuple[CodeSystem, bool]:
    """Create the code system, or replace the one with the same id (or url and version when
    ``replace``); returns the row and whether it is new.

    ``resource`` is FHIR JSON, validated here; ``concepts``, when given, are used instead of its
    ``concept`` list (bulk loads skip building 12,000 nested dicts).
    """
    if concepts is None:
        resource = resources.validate("CodeSystem", resource)
    row, created = resources.upsert(
        session,
        CodeSystem,
        data=resource,
        resource_id=resource_id,
        replace=replace,
        also_drop=frozenset({"concept", "count"}),
    )
    row.hierarchy_meaning = resource.get("hierarchyMeaning")
    if concepts is None:
        concepts = flatten(resource.get("concept", ()))
    store(session, row=row, concepts=concepts, progress=progress)
    return row, created


def concept_tree(session: Session, row: CodeSystem) -> list[dict[str, Any]]:
    """The concepts of ``row`` as nested FHIR ``CodeSystem.concept``, in source order."""
    nodes: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    parents: list[tuple[dict[str, Any], str | None]] = []
    query = select(Concept).where(Concept.code_system_id == row.id).order_by(Concept.position)
    for concept in session.scalars(query):
        node: dict[str, Any] = {"code": concept.code}
        node.update(
            (k, v)
            for k, v in (
                ("display", concept.display),
                ("definition", concept.definition),
                ("designation", concept.designations),
                ("property", concept.properties),
            )
            if v
        )
        nodes[concept.code] = node
        parents.append((node, concept.parent_code))
    for node, parent in parents:
        if parent in nodes:
            nodes[parent].setdefault("concept", []).append(node)
        else:
            roots.append(node)
    return roots


def render(session: Session, row: CodeSystem, *, concepts: bool = True) -> dict[str, Any]:
    """FHIR JSON of ``row``; without ``concepts`` (search results) it is marked SUBSETTED."""
    body = resources.render(row, "CodeSystem")
    if row.hierarchy_meaning:
        body["hierarchyMeaning"] = row.hierarchy_meaning
    body["count"] = session.scalar(select(func.count()).where(Concept.code_system_id == row.id))
    if concepts:
        body["concept"] = concept_tree(session, row)
    else:
        body["meta"]["tag"] = [SUBSETTED]
    return body
