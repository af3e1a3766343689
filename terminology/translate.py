"""ConceptMap $translate: a local code to standard codes (forward), or back (``reverse``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from terminology.catalog import version_key
from terminology.conceptmaps import NO_MATCH
from terminology.models import ConceptMap, ConceptMapElement

# read backwards, "the source is wider than the target" becomes "the target is narrower than the source"
REVERSED = {"wider": "narrower", "narrower": "wider", "subsumes": "specializes", "specializes": "subsumes"}


@dataclass(frozen=True)
class Match:
    equivalence: str
    system: str | None
    code: str | None
    display: str | None
    source: str  # the concept map: url|version
    comment: str | None = None


@dataclass
class Translation:
    result: bool
    message: str | None
    matches: list[Match] = field(default_factory=list)


def translate(
    session: Session,
    *,
    code: str,
    system: str,
    concept_map: ConceptMap | None = None,
    target_system: str | None = None,
    source_scope: str | None = None,
    target_scope: str | None = None,
    reverse: bool = False,
) -> Translation:
    """Matches for ``system|code`` in ``concept_map``, or in the newest version of every map.

    ``target_system`` keeps only matches in that system; ``source_scope`` and ``target_scope``
    keep only maps whose source or target value set is the one given.
    """
    element = ConceptMapElement
    source, target = (
        (element.source_system, element.source_code),
        (element.target_system, element.target_code),
    )
    given, wanted = (target, source) if reverse else (source, target)
    query = (
        select(element, ConceptMap)
        .join(ConceptMap, element.concept_map_id == ConceptMap.id)
        .where(given[0] == system, given[1] == code)
        .order_by(ConceptMap.url, element.position)
    )
    if concept_map is not None:
        query = query.where(element.concept_map_id == concept_map.id)
    if target_system is not None:
        query = query.where(wanted[0] == target_system)
    if source_scope is not None:
        query = query.where(ConceptMap.source_uri == source_scope)
    if target_scope is not None:
        query = query.where(ConceptMap.target_uri == target_scope)
    found = session.execute(query).all()
    if concept_map is None:
        newest = _newest_versions(session, {m.url for _, m in found})
        found = [(e, m) for e, m in found if m.id in newest]
    matches = [_match(element, owner, reverse=reverse) for element, owner in found]
    usable = [m for m in matches if m.equivalence not in NO_MATCH]
    if usable:
        return Translation(True, None, matches)
    direction = "to" if reverse else "from"
    why = "is mapped as unmatched" if matches else "has no mapping"
    return Translation(False, f"code {code!r} {direction} {system} {why}", matches)


def _match(element: ConceptMapElement, owner: ConceptMap, *, reverse: bool) -> Match:
    source = f"{owner.url}|{owner.version}" if owner.version else owner.url
    if reverse:
        equivalence = REVERSED.get(element.equivalence, element.equivalence)
        return Match(
            equivalence,
            element.source_system,
            element.source_code,
            element.source_display,
            source,
            element.comment,
        )
    return Match(
        element.equivalence,
        element.target_system,
        element.target_code,
        element.target_display,
        source,
        element.comment,
    )


def _newest_versions(session: Session, urls: set[str]) -> set[int]:
    """Ids of the newest version of each concept map url."""
    if not urls:
        return set()
    rows = session.execute(
        select(ConceptMap.id, ConceptMap.url, ConceptMap.version).where(ConceptMap.url.in_(urls))
    )
    newest: dict[str, tuple[tuple[object, ...], int]] = {}
    for pk, url, version in rows:
        key = version_key(version)
        if url not in newest or key > newest[url][0]:
            newest[url] = (key, pk)
    return {pk for _, pk in newest.values()}
