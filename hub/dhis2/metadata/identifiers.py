"""Which object a metadata payload object is, and what its references name, under DHIS2's
``identifier`` (``POST /api/metadata?identifier=UID|CODE|AUTO``, ``hub dhis2 metadata import
--identifier``).

UID, the default, takes every ``id`` as it is and needs nothing from here. CODE matches objects
and their references (``parent: {code}``, ``categoryCombo: {code}``, a data set's elements and org
units, ...) by ``code``; AUTO by ``id`` when the payload or the cache has it, else by ``code``. A
new object without an id gets a generated UID. As DHIS2's preheat does, the whole payload is read
before anything is written, so a reference may name an object anywhere in it, before or after;
the cache answers for everything else. A reference by code that names nothing is DHIS2's E5002;
one by id only is kept as it is, as the cache keeps references without checking them.

Example::

    identities = Identities.preheat(session, Identifier.CODE, objects)
    obj, errors = identities.resolve("organisationUnits", 0, objects[0][1])
    # obj["id"]: the cached (or new) UID; obj["parent"]: {"id": <the parent's UID>, "code": ...}
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from hub.dhis2.metadata import models
from hub.dhis2.metadata.lookup import UID_SCHEME, IdScheme, resolve
from hub.dhis2.metadata.report import ALREADY_EXISTS, INVALID_REFERENCE, ErrorReport
from hub.dhis2.metadata.schema import BY_KEY
from hub.dhis2.metadata.stream import MetadataObject
from hub.dhis2.uids import new_uid

CODE_SCHEME = IdScheme("code")
LOOKUP_CHUNK = 500  # identifiers per IN (...): well under SQLite's and PostgreSQL's bind limits


class Identifier(StrEnum):
    UID = "UID"
    CODE = "CODE"
    AUTO = "AUTO"


@dataclass(frozen=True)
class Reference:
    """A property naming objects of type ``target``: one ``{id|code}``, a list of them (``many``),
    or inside each item of the list ``within`` (a data set's ``dataSetElements``)."""

    prop: str
    target: str
    many: bool = False
    within: str | None = None


REFERENCES: dict[str, tuple[Reference, ...]] = {
    "organisationUnits": (Reference("parent", "organisationUnits"),),
    "categories": (Reference("categoryOptions", "categoryOptions", many=True),),
    "categoryCombos": (Reference("categories", "categories", many=True),),
    "categoryOptionCombos": (
        Reference("categoryCombo", "categoryCombos"),
        Reference("categoryOptions", "categoryOptions", many=True),
    ),
    "options": (Reference("optionSet", "optionSets"),),
    "dataElements": (Reference("categoryCombo", "categoryCombos"), Reference("optionSet", "optionSets")),
    "dataSets": (
        Reference("categoryCombo", "categoryCombos"),
        Reference("organisationUnits", "organisationUnits", many=True),
        Reference("dataElement", "dataElements", within="dataSetElements"),
        Reference("categoryCombo", "categoryCombos", within="dataSetElements"),
    ),
}

RefMap = Callable[[dict[str, Any]], dict[str, Any]]


def map_references(obj: dict[str, Any], ref: Reference, fn: RefMap) -> dict[str, Any]:
    """``obj`` with every reference dict of ``ref`` replaced by ``fn(reference)``; ``obj`` is not changed."""

    def in_holder(holder: dict[str, Any]) -> dict[str, Any]:
        value = holder.get(ref.prop)
        if ref.many and isinstance(value, list):
            return {**holder, ref.prop: [fn(item) if isinstance(item, dict) else item for item in value]}
        return {**holder, ref.prop: fn(value)} if isinstance(value, dict) else holder

    if ref.within is None:
        return in_holder(obj)
    items = obj.get(ref.within)
    if not isinstance(items, list):
        return obj
    return {**obj, ref.within: [in_holder(item) if isinstance(item, dict) else item for item in items]}


def _lookup(
    session: Session, model: type[models.Identifiable], scheme: IdScheme, values: Collection[str]
) -> dict[str, str]:
    """identifier -> UID for the cached objects of ``model``, asked for in chunks."""
    ordered = sorted(values)
    found: dict[str, str] = {}
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        chunk = ordered[start : start + LOOKUP_CHUNK]
        found.update(resolve(session, model=model, scheme=scheme, identifiers=chunk))
    return found


def _identifiers_used(
    by_type: dict[str, list[dict[str, Any]]],
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Codes and ids per type key, of the payload's objects and of what their references name."""
    codes: dict[str, set[str]] = defaultdict(set)
    ids: dict[str, set[str]] = defaultdict(set)

    def note(key: str) -> RefMap:
        def record(item: dict[str, Any]) -> dict[str, Any]:
            if isinstance(item.get("code"), str):
                codes[key].add(item["code"])
            if isinstance(item.get("id"), str):
                ids[key].add(item["id"])
            return item

        return record

    for key, payload in by_type.items():
        for obj in payload:
            note(key)(obj)
            for ref in REFERENCES.get(key, ()):
                map_references(obj, ref, note(ref.target))
    return codes, ids


def _describe(obj: dict[str, Any]) -> str:
    return f"{obj.get('name') or obj.get('code')} ({obj.get('id')})"


class Identities:
    """The UID of each payload object and of each object its references name, for one import."""

    def __init__(self, identifier: Identifier) -> None:
        self.identifier = identifier
        self._uids: dict[tuple[str, int], str] = {}  # (type key, index within the type) -> UID
        self._conflicts: dict[tuple[str, int], ErrorReport] = {}
        self._by_code: dict[str, dict[str, str]] = defaultdict(dict)  # type key -> code -> UID
        self._cached: dict[str, set[str]] = defaultdict(set)  # type key -> ids the cache has
        self._known: dict[str, set[str]] = defaultdict(set)  # ... the cache or the payload has

    @classmethod
    def preheat(
        cls, session: Session, identifier: Identifier, objects: Sequence[MetadataObject]
    ) -> Identities:
        """Read the whole payload and ask the cache, in bulk, about every code and id it uses."""
        identities = cls(identifier)
        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for key, obj in objects:
            if key in BY_KEY:
                by_type[key].append(obj)
        codes, ids = _identifiers_used(by_type)
        for key in codes.keys() | ids.keys():
            model = BY_KEY[key].model
            identities._by_code[key].update(_lookup(session, model, CODE_SCHEME, codes[key]))
            identities._cached[key].update(_lookup(session, model, UID_SCHEME, ids[key]))
            identities._known[key].update(identities._cached[key])
        for key, payload in by_type.items():
            for index, obj in enumerate(payload):
                identities._identify(key, index, obj)
        return identities

    def _identify(self, key: str, index: int, obj: dict[str, Any]) -> None:
        """The object's UID: the cached object it matches, else its own id, else a new one."""
        given, code = obj.get("id"), obj.get("code")
        cached_by_code = self._by_code[key].get(code) if isinstance(code, str) else None
        if self.identifier == Identifier.AUTO and given in self._cached[key]:
            uid = given
        elif cached_by_code:
            uid = cached_by_code
        else:
            if self.identifier == Identifier.CODE and given in self._cached[key]:
                # the code matched nothing, yet the id is another cached object's: DHIS2's E5003
                message = f"Property `id` with value `{given}` on object {_describe(obj)} already exists."
                self._conflicts[key, index] = ErrorReport(
                    message, ALREADY_EXISTS, BY_KEY[key].klass, "id", given
                )
            uid = given if isinstance(given, str) and given else new_uid()
            if isinstance(code, str):
                self._by_code[key].setdefault(code, uid)
        self._uids[key, index] = uid
        self._known[key].add(uid)

    def resolve(self, key: str, index: int, obj: dict[str, Any]) -> tuple[dict[str, Any], list[ErrorReport]]:
        """The object with its UID as ``id`` and its references as UIDs, or the reasons it is refused."""
        errors = [self._conflicts[key, index]] if (key, index) in self._conflicts else []
        resolved = {**obj, "id": self._uids[key, index]}
        described = _describe(resolved)
        for ref in REFERENCES.get(key, ()):

            def to_uid(item: dict[str, Any], ref: Reference = ref) -> dict[str, Any]:
                return self._reference(key, described, ref, item, errors)

            resolved = map_references(resolved, ref, to_uid)
        return resolved, errors

    def _reference(
        self, key: str, described: str, ref: Reference, item: dict[str, Any], errors: list[ErrorReport]
    ) -> dict[str, Any]:
        """``item`` naming its object by UID; unchanged (and an E5002) when its code names nothing."""
        given, code = item.get("id"), item.get("code")
        if self.identifier == Identifier.AUTO and given in self._known[ref.target]:
            return item
        uid = self._by_code[ref.target].get(code) if isinstance(code, str) else None
        if uid:
            return {**item, "id": uid}
        if not isinstance(code, str) or (given and self.identifier == Identifier.AUTO):
            return item  # named by id alone: kept as it is, as under UID
        target = BY_KEY[ref.target].simple_name
        message = f"Invalid reference [{code}] ({target}) on object {described} for association `{ref.prop}`."
        errors.append(ErrorReport(message, INVALID_REFERENCE, BY_KEY[key].klass, ref.prop, code))
        return item
