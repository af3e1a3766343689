"""Turning a ``/api/tracker`` payload into the calls the legacy endpoints (before 2.36) take.

The new payload may nest enrollments in tracked entities and events in enrollments, or list
them flat. The legacy endpoints take one object type each, with the pre-2.36 field names, so
the payload is flattened (each child learns its parent's id) and renamed, then sent as
``trackedEntityInstances``, ``enrollments`` and ``events`` in that order: a child can only be
imported once its parent exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.dhis2.errors import UnsupportedByVersion

# Field names changed in 2.36 (DHIS2's "Tracker Import changelog"): new name -> legacy name.
_TIMESTAMPS = {"createdAt": "created", "updatedAt": "lastUpdated", "updatedAtClient": "lastUpdatedAtClient"}
_TRACKED_ENTITY = {**_TIMESTAMPS, "trackedEntity": "trackedEntityInstance"}
_ENROLLMENT = {
    **_TRACKED_ENTITY,
    "enrolledAt": "enrollmentDate",
    "occurredAt": "incidentDate",
    "completedAt": "completedDate",
}
_EVENT = {
    **_TRACKED_ENTITY,
    "occurredAt": "eventDate",
    "scheduledAt": "dueDate",
    "completedAt": "completedDate",
}
_VALUE = {"createdAt": "created", "updatedAt": "lastUpdated"}
_NOTE = {"storedAt": "storedDate", "updatedAt": "lastUpdated"}
_NESTED = {"attributes": _VALUE, "dataValues": _VALUE, "notes": _NOTE}


@dataclass
class LegacyCall:
    """One POST to a legacy endpoint: ``resource`` is also the key of the list in the body."""

    tracker_type: str
    resource: str
    objects: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> dict[str, list[dict[str, Any]]]:
        return {self.resource: self.objects}


def legacy_calls(payload: Mapping[str, Any]) -> list[LegacyCall]:
    """The non-empty legacy calls for ``payload``, parents first.

    Example::

        legacy_calls({"trackedEntities": [{"trackedEntity": "Kj6vYde4LHh", "enrollments": [
            {"program": "f1AyMswryyQ", "enrolledAt": "2019-08-19", "occurredAt": "2019-08-19"}]}]})
        # [LegacyCall("TRACKED_ENTITY", "trackedEntityInstances", [{"trackedEntityInstance": "Kj6vYde4LHh"}]),
        #  LegacyCall("ENROLLMENT", "enrollments", [{"program": "f1AyMswryyQ",
        #      "trackedEntityInstance": "Kj6vYde4LHh", "enrollmentDate": "2019-08-19",
        #      "incidentDate": "2019-08-19"}])]
    """
    if _has_relationships(payload):
        raise UnsupportedByVersion(
            "relationships cannot be sent to the legacy tracker endpoints by this client; "
            "import them with /api/relationships directly"
        )
    entities = LegacyCall("TRACKED_ENTITY", "trackedEntityInstances")
    enrollments = LegacyCall("ENROLLMENT", "enrollments")
    events = LegacyCall("EVENT", "events")
    for entity in payload.get("trackedEntities") or []:
        entities.objects.append(_rename(_without(entity, "enrollments"), _TRACKED_ENTITY))
        for enrollment in entity.get("enrollments") or []:
            _add_enrollment(enrollments, events, enrollment, trackedEntity=entity.get("trackedEntity"))
    for enrollment in payload.get("enrollments") or []:
        _add_enrollment(enrollments, events, enrollment)
    for event in payload.get("events") or []:
        events.objects.append(_rename(event, _EVENT))
    return [call for call in (entities, enrollments, events) if call.objects]


def _add_enrollment(
    enrollments: LegacyCall, events: LegacyCall, enrollment: Mapping[str, Any], **parent: Any
) -> None:
    flat = _with_parent(_without(enrollment, "events"), parent)
    enrollments.objects.append(_rename(flat, _ENROLLMENT))
    inherited = {key: flat.get(key) for key in ("enrollment", "program", "trackedEntity")}
    for event in enrollment.get("events") or []:
        events.objects.append(_rename(_with_parent(event, inherited), _EVENT))


def _has_relationships(payload: Mapping[str, Any]) -> bool:
    if payload.get("relationships"):
        return True
    return any(_has_relationships(child) for key in _CHILDREN for child in payload.get(key) or [])


_CHILDREN = ("trackedEntities", "enrollments", "events")


def _without(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != key}


def _with_parent(obj: Mapping[str, Any], parent: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` with its parent's ids filled in where it does not name them itself."""
    return {**{k: v for k, v in parent.items() if v is not None}, **obj}


def _rename(obj: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    renamed: dict[str, Any] = {}
    for key, value in obj.items():
        if key == "relationships":
            continue  # empty here (checked above); the legacy bodies have no such list
        if key in _NESTED and isinstance(value, list):
            value = [_rename(item, _NESTED[key]) for item in value]
        renamed[names.get(key, key)] = value
    return renamed
