"""Import DHIS2 metadata into the cache: from an export file, ``POST /api/metadata`` or the sync.

Objects are upserted by UID in batches (one SELECT, one bulk INSERT and one bulk UPDATE per
batch), so an export of any size streams through in bounded memory. Each object is checked
first; a refused object gets an error report in DHIS2's shape. Objects are matched by UID, or by
code (``identifier=CODE|AUTO``, :mod:`~hub.dhis2.metadata.identifiers`: the payload is then read
whole before anything is written, as DHIS2's preheat). With ``atomic=True`` (DHIS2's
``atomicMode=ALL``) one refused object undoes the whole import; ``dry_run`` (``importMode=
VALIDATE``) reports what would happen and keeps nothing. Both work through a savepoint, so
the caller still owns the transaction.

Example::

    with open("metadata.json", "rb") as fh, db.session() as session:
        report = import_metadata(session, source=read_export(fh))
    report.status, report.stats.created
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from itertools import groupby
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from hub.dhis2.metadata import models
from hub.dhis2.metadata.deletion import delete_objects, delete_owned
from hub.dhis2.metadata.identifiers import Identifier, Identities
from hub.dhis2.metadata.report import (
    ALREADY_EXISTS,
    INVALID_UID,
    INVALID_VALUE,
    MISSING_PROPERTY,
    NO_MATCHING_OBJECT,
    TOO_LONG,
    ErrorReport,
    ImportReport,
    ObjectReport,
    Stats,
)
from hub.dhis2.metadata.schema import BY_KEY, UID_PATTERN, ObjectType
from hub.dhis2.metadata.stream import MetadataObject

BATCH_SIZE = 500
MIN_MAX_KEY = "minMaxDataElements"
MIN_MAX_KLASS = "org.hisp.dhis.minmax.MinMaxDataElement"


class ImportStrategy(StrEnum):
    CREATE_AND_UPDATE = "CREATE_AND_UPDATE"
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


def import_metadata(
    session: Session,
    *,
    source: Iterable[MetadataObject],
    import_strategy: ImportStrategy = ImportStrategy.CREATE_AND_UPDATE,
    atomic: bool = True,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    identifier: Identifier = Identifier.UID,
) -> ImportReport:
    """Upsert (or create, update, delete) every supported object in ``source``, matched by
    ``identifier``; types the cache does not keep (indicators, programs, ...) are skipped and
    counted in ``report.skipped``."""
    report = ImportReport(import_mode="VALIDATE" if dry_run else "COMMIT")
    identities = None
    if identifier != Identifier.UID:
        source = list(source)
        identities = Identities.preheat(session, identifier, source)
    savepoint = session.begin_nested()
    org_units_written = False
    for key, batch in _batches(source):
        if key == MIN_MAX_KEY:
            _import_min_max(session, batch=batch, report=report)
        elif key in BY_KEY:
            object_type = BY_KEY[key]
            _import_batch(
                session,
                object_type=object_type,
                batch=batch,
                strategy=import_strategy,
                report=report,
                identities=identities,
            )
            org_units_written |= object_type.model is models.OrgUnit
        else:
            report.skipped[key] = report.skipped.get(key, 0) + len(batch)
        if progress:
            progress(len(batch))
    if org_units_written and import_strategy != ImportStrategy.DELETE:
        complete_org_unit_paths(session)
    if atomic and report.has_errors:
        savepoint.rollback()
        _mark_rolled_back(report)
    elif dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    return report


def _batches(source: Iterable[MetadataObject]) -> Iterator[tuple[str, list[tuple[int, dict[str, Any]]]]]:
    """Consecutive objects of one type, at most BATCH_SIZE at a time, with their index within the type."""
    seen: dict[str, int] = {}
    for key, run in groupby(source, key=lambda item: item[0]):
        batch: list[tuple[int, dict[str, Any]]] = []
        for _, obj in run:
            batch.append((seen.get(key, 0), obj))
            seen[key] = seen.get(key, 0) + 1
            if len(batch) == BATCH_SIZE:
                yield key, batch
                batch = []
        if batch:
            yield key, batch


def _mark_rolled_back(report: ImportReport) -> None:
    report.rolled_back = True
    for type_report in report.type_reports.values():
        type_report.stats = Stats(ignored=type_report.stats.total)


def _error(object_type: ObjectType, code: str, message: str, prop: str, value: Any = None) -> ErrorReport:
    return ErrorReport(message, code, object_type.klass, prop, value)


def _check(
    object_type: ObjectType, obj: dict[str, Any], strategy: ImportStrategy
) -> tuple[dict[str, Any] | None, list[ErrorReport]]:
    """The object's row, or the reasons it is refused."""
    uid = obj.get("id")
    if not uid:
        return None, [_error(object_type, MISSING_PROPERTY, "Missing required property `id`.", "id")]
    if not isinstance(uid, str) or not UID_PATTERN.match(uid):
        return None, [_error(object_type, INVALID_UID, f"Invalid UID `{uid}` for property `id`.", "id", uid)]
    if strategy == ImportStrategy.DELETE:
        return {"uid": uid}, []
    errors = [
        _error(object_type, MISSING_PROPERTY, f"Missing required property `{prop}`.", prop)
        for prop in object_type.required
        if obj.get(prop) in (None, "")
    ]
    errors += [
        _error(
            object_type,
            INVALID_VALUE,
            f"Value `{obj[prop]}` is not valid for property `{prop}`.",
            prop,
            obj[prop],
        )
        for prop, allowed in object_type.enums.items()
        if obj.get(prop) is not None and (not isinstance(obj[prop], str) or obj[prop] not in allowed)
    ]
    if errors:
        return None, errors
    try:
        row = object_type.row(obj)
    except ValueError as exc:
        return None, [_error(object_type, INVALID_VALUE, str(exc), "geometry")]
    errors = _mistyped(object_type, row)
    return (None, errors) if errors else (row, [])


NUMBER = (int, float)  # a whole number fills a decimal property


def _mistyped(object_type: ObjectType, row: dict[str, Any]) -> list[ErrorReport]:
    """A value of another JSON type than its property's (an array for a name, text for a level),
    which DHIS2's reader refuses too, or a text longer than its column (PostgreSQL refuses it, SQLite
    would keep it); a number for a text is written out, as DHIS2 reads it."""
    columns = object_type.model.__table__.c
    wire: dict[str, str] = {}
    for prop, column in object_type.properties.items():
        wire.setdefault(column, prop)  # the first of a column's names: name, not displayName
    errors = []
    for column, value in row.items():
        kind = columns[column].type.python_type
        if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
            row[column] = value = str(value)
        prop = wire.get(column, column)
        if isinstance(value, str) and kind is str:
            most = getattr(columns[column].type, "length", None)
            if most is not None and len(value) > most:
                message = f"Maximum length of property `{prop}`is {most}, but given length was {len(value)}."
                errors.append(_error(object_type, TOO_LONG, message, prop, value))
        elif not (value is None or kind is object or isinstance(value, NUMBER if kind is float else kind)):
            message = f"Value `{value}` is not valid for property `{prop}`."
            errors.append(_error(object_type, INVALID_VALUE, message, prop, value))
    return errors


def _import_batch(
    session: Session,
    *,
    object_type: ObjectType,
    batch: list[tuple[int, dict[str, Any]]],
    strategy: ImportStrategy,
    report: ImportReport,
    identities: Identities | None = None,
) -> None:
    type_report = report.type_report(object_type.klass)
    stats = type_report.stats
    model = object_type.model
    rows: dict[str, tuple[int, dict[str, Any], dict[str, Any]]] = {}
    for index, given in batch:
        obj, errors = identities.resolve(object_type.key, index, given) if identities else (given, [])
        row, errors = (None, errors) if errors else _check(object_type, obj, strategy)
        if row is None:
            type_report.object_reports.append(ObjectReport(object_type.klass, index, obj.get("id"), errors))
            stats.ignored += 1
        else:
            rows[row["uid"]] = (index, obj, row)
    existing = set(session.scalars(select(model.uid).where(model.uid.in_(rows))))

    identifier = identities.identifier if identities else Identifier.UID
    refused = _refused_by_strategy(object_type, rows, existing, strategy, identifier)
    for uid, error in refused.items():
        index, _, _ = rows.pop(uid)
        type_report.object_reports.append(ObjectReport(object_type.klass, index, uid, [error]))
        stats.ignored += 1
    if not rows:
        return

    uids = list(rows)
    if strategy == ImportStrategy.DELETE:
        stats.deleted += delete_objects(session, object_type=object_type, uids=uids)
        return
    delete_owned(session, object_type=object_type, uids=uids)
    new = [row for uid, (_, _, row) in rows.items() if uid not in existing]
    changed = [row for uid, (_, _, row) in rows.items() if uid in existing]
    if new:
        session.execute(insert(model), new)
    if changed:
        session.execute(update(model), changed)
    stats.created += len(new)
    stats.updated += len(changed)
    _insert_owned(session, object_type=object_type, objects=[obj for _, obj, _ in rows.values()])


def _refused_by_strategy(
    object_type: ObjectType,
    rows: dict[str, tuple[int, dict[str, Any], dict[str, Any]]],
    existing: set[str],
    strategy: ImportStrategy,
    identifier: Identifier,
) -> dict[str, ErrorReport]:
    if strategy == ImportStrategy.CREATE:
        return {
            uid: _error(object_type, ALREADY_EXISTS, f"Object `{uid}` already exists.", "id", uid)
            for uid in rows
            if uid in existing
        }
    if strategy in (ImportStrategy.UPDATE, ImportStrategy.DELETE):
        return {
            uid: _no_match(object_type, identifier, obj.get("code") if identifier == Identifier.CODE else uid)
            for uid, (_, obj, _) in rows.items()
            if uid not in existing
        }
    return {}


def _no_match(object_type: ObjectType, identifier: Identifier, name: str | None) -> ErrorReport:
    message = f"No matching object for reference. Identifier was {identifier}, and object was {name}."
    return _error(object_type, NO_MATCHING_OBJECT, message, "id", name)


def _insert_owned(session: Session, *, object_type: ObjectType, objects: list[dict[str, Any]]) -> None:
    for owned in object_type.owned:
        rows = [{owned.key: obj["id"], **row} for obj in objects for row in owned.rows(obj)]
        if rows:
            session.execute(insert(owned.model), rows)
    attribute_rows = {
        (obj["id"], value["attribute"]["id"]): {
            "object_type": object_type.simple_name,
            "object_uid": obj["id"],
            "attribute_uid": value["attribute"]["id"],
            "value": str(value.get("value", "")),
        }
        for obj in objects
        for value in obj.get("attributeValues") or ()
        if isinstance(value.get("attribute"), dict) and value["attribute"].get("id")
    }
    if attribute_rows:
        session.execute(insert(models.AttributeValue), list(attribute_rows.values()))


def complete_org_unit_paths(session: Session) -> int:
    """Fill in the ``path`` and ``level`` of org units whose export left them out, from their parents."""
    org_unit = models.OrgUnit
    missing = {
        uid: parent
        for uid, parent in session.execute(
            select(org_unit.uid, org_unit.parent_uid).where(
                (org_unit.path.is_(None)) | (org_unit.level.is_(None))
            )
        )
    }
    known: dict[str, str] = {}
    parents = {p for p in missing.values() if p and p not in missing}
    if parents:
        known = dict(
            session.execute(select(org_unit.uid, org_unit.path).where(org_unit.uid.in_(parents))).all()
        )
    updates: list[dict[str, Any]] = []
    progressed = True
    while missing and progressed:
        progressed = False
        for uid, parent in list(missing.items()):
            if parent is None or known.get(parent):
                path = f"{known[parent]}/{uid}" if parent else f"/{uid}"
                known[uid] = path
                updates.append({"uid": uid, "path": path, "level": path.count("/")})
                del missing[uid]
                progressed = True
    if updates:
        session.execute(update(org_unit), updates)
    return len(updates)


def _import_min_max(
    session: Session, *, batch: list[tuple[int, dict[str, Any]]], report: ImportReport
) -> None:
    """Min/max bounds, keyed by (data element, org unit, category option combo)."""
    type_report = report.type_report(MIN_MAX_KLASS)
    min_max = models.MinMaxDataElement
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for index, obj in batch:
        refs = {prop: (obj.get(prop) or {}).get("id") for prop in ("dataElement", "source", "optionCombo")}
        missing = [p for p, uid in refs.items() if not uid] + [
            p for p in ("min", "max") if obj.get(p) is None
        ]
        if missing:
            errors = [
                ErrorReport(f"Missing required property `{prop}`.", MISSING_PROPERTY, MIN_MAX_KLASS, prop)
                for prop in missing
            ]
            type_report.object_reports.append(ObjectReport(MIN_MAX_KLASS, index, None, errors))
            type_report.stats.ignored += 1
            continue
        key = (refs["dataElement"], refs["source"], refs["optionCombo"])
        rows[key] = {
            "data_element_uid": key[0],
            "org_unit_uid": key[1],
            "category_option_combo_uid": key[2],
            "min_value": float(obj["min"]),
            "max_value": float(obj["max"]),
            "generated": bool(obj.get("generated", False)),
        }
    if not rows:
        return
    existing = {
        tuple(r)
        for r in session.execute(
            select(min_max.data_element_uid, min_max.org_unit_uid, min_max.category_option_combo_uid).where(
                min_max.data_element_uid.in_({k[0] for k in rows}),
                min_max.org_unit_uid.in_({k[1] for k in rows}),
            )
        )
    }
    new = [row for key, row in rows.items() if key not in existing]
    changed = [row for key, row in rows.items() if key in existing]
    if new:
        session.execute(insert(min_max), new)
    if changed:
        session.execute(update(min_max), changed)
    type_report.stats.created += len(new)
    type_report.stats.updated += len(changed)
