"""The in-memory view of the terminology tables that every lookup, validation and search reads.

The database stays the source of truth. A :class:`Catalog` holds each code system version's
concepts and hierarchy (and, on first search, its :class:`~terminology.search.SearchIndex`) plus
every value set definition. It notices changes by comparing ``revision`` columns: at most once
per ``refresh_s`` for changes made by other processes, and at once after a commit in this process
whose session was marked with :func:`mark_changed`. Only what changed is reloaded, so an index
survives edits to other code systems.

On SQLite the catalog reads through an engine of its own: the hub's sessions begin with
``BEGIN IMMEDIATE`` (a write lock), which would queue every refresh, and so every look-up,
behind whatever transaction is writing. In WAL mode a plain read sees the last committed state
without waiting.
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session

from hub.db.session import Database
from terminology.errors import UnknownCodeSystem, UnknownResource, UnknownVersion
from terminology.models import CodeSystem, Concept, ValueSet
from terminology.search import Document, SearchIndex

REFRESH_S = 1.0
_CHANGED = "terminology.changed"


def version_key(version: str) -> tuple[Any, ...]:
    """Natural order: "2019" > "2016", "1.10" > "1.9"; an empty version sorts first."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", version) if p)


@dataclass(frozen=True, slots=True)
class Entry:
    """One concept of a loaded code system."""

    code: str
    display: str | None
    definition: str | None
    parent: str | None
    position: int
    properties: tuple[dict[str, Any], ...] = ()
    designations: tuple[dict[str, Any], ...] = ()

    def property_values(self, code: str) -> list[Any]:
        """The values of concept property ``code``, whatever their FHIR type (a Coding gives its code)."""
        values = []
        for prop in self.properties:
            if prop.get("code") == code:
                value = next((v for k, v in prop.items() if k.startswith("value")), None)
                values.append(value.get("code") if isinstance(value, dict) else value)
        return values


@dataclass(frozen=True)
class ValueSetDefinition:
    id: int
    resource_id: str
    url: str
    version: str
    name: str | None
    title: str | None
    status: str
    revision: int
    resource: dict[str, Any]


class LoadedSystem:
    """One code system version: concepts by code, the hierarchy, a search index built on first use."""

    def __init__(self, row: CodeSystem, entries: list[Entry]) -> None:
        self.id = row.id
        self.resource_id = row.resource_id
        self.url = row.url
        self.version = row.version
        self.name = row.name
        self.title = row.title
        self.status = row.status
        self.revision = row.revision
        self.hierarchy_meaning = row.hierarchy_meaning
        self.resource = row.resource
        self.entries = entries
        self.by_code = {e.code: e for e in entries}
        children: dict[str, list[str]] = defaultdict(list)
        for entry in entries:
            if entry.parent is not None:
                children[entry.parent].append(entry.code)
        self._children = {code: tuple(codes) for code, codes in children.items()}
        self._index: SearchIndex | None = None
        self._index_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<LoadedSystem {self.url}|{self.version} ({len(self.entries)} concepts)>"

    @property
    def implicit_value_set(self) -> str:
        """FHIR's "all codes" value set of this code system."""
        return f"{self.url}?fhir_vs"

    def concept(self, code: str) -> Entry | None:
        return self.by_code.get(code)

    def children(self, code: str) -> tuple[str, ...]:
        return self._children.get(code, ())

    def ancestors(self, code: str) -> list[str]:
        """Parent, grandparent, … up to the root."""
        chain: list[str] = []
        entry = self.by_code.get(code)
        while entry is not None and entry.parent is not None and entry.parent not in chain:
            chain.append(entry.parent)
            entry = self.by_code.get(entry.parent)
        return chain

    def descendants(self, code: str) -> Iterator[str]:
        stack = list(reversed(self.children(code)))
        while stack:
            current = stack.pop()
            yield current
            stack.extend(reversed(self.children(current)))

    def search(self, text: str) -> list[Entry]:
        """Concepts matching ``text``, best first (see :mod:`terminology.search`)."""
        if self._index is None:
            with self._index_lock:
                if self._index is None:
                    self._index = SearchIndex(
                        [
                            Document(
                                e.code, e.display or "", tuple(d.get("value", "") for d in e.designations)
                            )
                            for e in self.entries
                        ]
                    )
        return [self.entries[i] for i in self._index.search(text)]


@dataclass
class _Snapshot:
    systems: dict[int, LoadedSystem] = field(default_factory=dict)
    value_sets: dict[int, ValueSetDefinition] = field(default_factory=dict)
    by_url: dict[str, list[LoadedSystem]] = field(default_factory=dict)  # newest version first
    by_id: dict[str, LoadedSystem] = field(default_factory=dict)
    value_sets_by_url: dict[str, list[ValueSetDefinition]] = field(default_factory=dict)
    value_sets_by_id: dict[str, ValueSetDefinition] = field(default_factory=dict)
    cache: dict[Any, Any] = field(default_factory=dict)  # derived data (expansions); dropped on any change

    @classmethod
    def of(cls, systems: dict[int, LoadedSystem], value_sets: dict[int, ValueSetDefinition]) -> _Snapshot:
        snap = cls(systems, value_sets)
        for system in sorted(systems.values(), key=lambda s: version_key(s.version), reverse=True):
            snap.by_url.setdefault(system.url, []).append(system)
            snap.by_id[system.resource_id] = system
        for vs in sorted(value_sets.values(), key=lambda v: version_key(v.version), reverse=True):
            snap.value_sets_by_url.setdefault(vs.url, []).append(vs)
            snap.value_sets_by_id[vs.resource_id] = vs
        return snap


class Catalog:
    """Code systems and value sets of one database, in memory; see the module docstring."""

    def __init__(self, db: Database, *, refresh_s: float = REFRESH_S) -> None:
        self.db = db
        self.refresh_s = refresh_s
        self._engine = (
            create_engine(db.url, pool_size=1, connect_args={"check_same_thread": False})
            if db.dialect == "sqlite"
            else db.engine
        )
        self._snapshot = _Snapshot()
        self._checked_at = -float("inf")
        self._expired = 0  # bumped by expire(), so a refresh that raced a commit does not count
        self._lock = threading.Lock()

    @property
    def stale(self) -> bool:
        return time.monotonic() - self._checked_at >= self.refresh_s

    def expire(self) -> None:
        """Make the next read check the database."""
        self._expired += 1
        self._checked_at = -float("inf")

    def refresh(self) -> None:
        """Reload whatever changed since the last check (a no-op while fresh)."""
        if not self.stale:
            return
        with self._lock:
            if not self.stale:
                return
            checked_at, expired = time.monotonic(), self._expired
            with Session(self._engine) as session:
                self._reload(session)
            if expired == self._expired:
                self._checked_at = checked_at

    def _reload(self, session: Session) -> None:
        old = self._snapshot
        system_revisions = dict(session.execute(select(CodeSystem.id, CodeSystem.revision)).all())
        vs_revisions = dict(session.execute(select(ValueSet.id, ValueSet.revision)).all())
        unchanged_systems = system_revisions == {pk: s.revision for pk, s in old.systems.items()}
        if unchanged_systems and vs_revisions == {pk: v.revision for pk, v in old.value_sets.items()}:
            return
        systems = {}
        for pk, revision in system_revisions.items():
            kept = old.systems.get(pk)
            systems[pk] = kept if kept is not None and kept.revision == revision else _load(session, pk)
        value_sets = {}
        for row in session.scalars(select(ValueSet)):
            value_sets[row.id] = ValueSetDefinition(
                row.id,
                row.resource_id,
                row.url,
                row.version,
                row.name,
                row.title,
                row.status,
                row.revision,
                row.resource,
            )
        self._snapshot = _Snapshot.of(systems, value_sets)

    # -- reads (each refreshes first when stale) ----------------------------------------------------

    def snapshot(self) -> _Snapshot:
        self.refresh()
        return self._snapshot

    def system(self, url: str, version: str | None = None) -> LoadedSystem:
        """The code system ``url`` in ``version`` (default: the newest loaded)."""
        versions = self.snapshot().by_url.get(url)
        if not versions:
            raise UnknownCodeSystem(f"code system {url} is not known to this server", expression="system")
        if version is None:
            return versions[0]
        for system in versions:
            if system.version == version:
                return system
        known = ", ".join(repr(s.version) for s in versions)
        raise UnknownVersion(
            f"code system {url} has no version {version!r} on this server (known: {known})",
            expression="version",
        )

    def system_by_id(self, resource_id: str) -> LoadedSystem:
        system = self.snapshot().by_id.get(resource_id)
        if system is None:
            raise UnknownCodeSystem(f"no CodeSystem with id {resource_id!r}")
        return system

    def systems(self) -> list[LoadedSystem]:
        return [s for versions in self.snapshot().by_url.values() for s in versions]

    def newest(self) -> dict[str, LoadedSystem]:
        """The newest version of each code system, by url."""
        return {url: versions[0] for url, versions in self.snapshot().by_url.items()}

    def value_set(self, url: str, version: str | None = None) -> ValueSetDefinition:
        versions = self.snapshot().value_sets_by_url.get(url)
        if not versions:
            raise UnknownResource(f"value set {url} is not known to this server", expression="url")
        if version is None:
            return versions[0]
        for definition in versions:
            if definition.version == version:
                return definition
        known = ", ".join(repr(v.version) for v in versions)
        raise UnknownResource(
            f"value set {url} has no version {version!r} (known: {known})", expression="valueSetVersion"
        )

    def value_set_by_id(self, resource_id: str) -> ValueSetDefinition:
        definition = self.snapshot().value_sets_by_id.get(resource_id)
        if definition is None:
            raise UnknownResource(f"no ValueSet with id {resource_id!r}")
        return definition

    def cache(self) -> dict[Any, Any]:
        """A dict for data derived from this snapshot; it is dropped when anything changes."""
        return self.snapshot().cache


def _load(session: Session, pk: int) -> LoadedSystem:
    row = session.get_one(CodeSystem, pk)
    concepts = session.execute(
        select(
            Concept.code,
            Concept.display,
            Concept.definition,
            Concept.parent_code,
            Concept.position,
            Concept.properties,
            Concept.designations,
        )
        .where(Concept.code_system_id == pk)
        .order_by(Concept.position)
    )
    entries = [
        Entry(code, display, definition, parent, position, tuple(props or ()), tuple(designations or ()))
        for code, display, definition, parent, position, props, designations in concepts
    ]
    return LoadedSystem(row, entries)


# -- one catalog per database, expired when this process commits a terminology change -------------

_catalogs: weakref.WeakKeyDictionary[Database, Catalog] = weakref.WeakKeyDictionary()
_catalogs_lock = threading.Lock()


def catalog_for(db: Database) -> Catalog:
    """The catalog of ``db``, created on first use."""
    with _catalogs_lock:
        catalog = _catalogs.get(db)
        if catalog is None:
            catalog = _catalogs[db] = Catalog(db)
        return catalog


def mark_changed(session: Session) -> None:
    """Services call this after changing terminology rows; catalogs expire when the session commits."""
    session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _expire_catalogs(session: Session) -> None:
    if not session.info.pop(_CHANGED, False):
        return
    url = session.get_bind().url
    with _catalogs_lock:
        for catalog in _catalogs.values():
            if catalog.db.engine.url == url:
                catalog.expire()


@event.listens_for(Session, "after_rollback")
def _forget_change(session: Session) -> None:
    session.info.pop(_CHANGED, None)
