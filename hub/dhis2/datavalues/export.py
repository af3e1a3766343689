"""Reading values back from the hub's store: ``GET /api/dataValueSets`` (streamed as JSON, XML or
CSV) and ``GET /api/dataValues`` (one value).

A client with org unit roots reads only inside them, as DHIS2 restricts reads to the user's data
view hierarchy: asking for an org unit the cache places outside is DHIS2's 409 (E2012 for data
value sets, E2020 for one value); ``children=true`` adds descendants of the units asked for, all
inside. A client without roots reads everything.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import quoteattr

import orjson
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from hub.db.session import Database
from hub.dhis2.datavalues import periods
from hub.dhis2.datavalues.models import DataValue
from hub.dhis2.metadata import models as metadata
from hub.dhis2.metadata.lookup import UID_SCHEME, org_units_within, resolve
from hub.errors import Conflict, NotFound

BATCH = 5_000
# DHIS2's ErrorCodes for an org unit outside the user's hierarchy: data value sets, one data value
NOT_VIEWABLE = ("E2012", "User is not allowed to view org unit: `{}`")
NOT_IN_HIERARCHY = ("E2020", "Organisation unit is not in the hierarchy of the current user: `{}`")
CSV_HEADER = ["dataelement", "period", "orgunit", "catoptcombo", "attroptcombo", "value", "storedby",
              "lastupdated", "comment", "followup", "deleted"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Query:
    data_sets: list[str]
    data_elements: list[str]
    periods: list[str]
    start_date: date | None
    end_date: date | None
    org_units: list[str]
    children: bool
    include_deleted: bool
    last_updated: datetime | None
    attribute_option_combo: str | None
    roots: tuple[str, ...] = ()  # the client's hierarchy; empty: it may read every org unit


def _outside(error: tuple[str, str], uid: str) -> Conflict:
    """DHIS2's IllegalQueryException for an org unit outside the user's hierarchy (a 409 WebMessage)."""
    code, message = error
    return Conflict(message.format(uid), extra={"errorCode": code})


def _viewable(session: Session, query: Query) -> list[str]:
    """The org units asked for that the client may read. A unit the cache places outside its roots
    is a 409 (E2012), as in DHIS2; one the cache does not know is left out, as DHIS2 ignores it."""
    if not query.roots:
        return query.org_units
    inside = org_units_within(session, uids=query.org_units, roots=query.roots)
    known = resolve(session, model=metadata.OrgUnit, scheme=UID_SCHEME, identifiers=query.org_units)
    for uid in query.org_units:
        if uid in known and uid not in inside:
            raise _outside(NOT_VIEWABLE, uid)
    return [uid for uid in query.org_units if uid in inside]


def _periods_between(session: Session, query: Query) -> set[str]:
    """Stored periods that lie inside [start_date, end_date] (DHIS2's startDate/endDate)."""
    start, end = query.start_date, query.end_date
    stored = (periods.parse(iso) for iso in session.scalars(select(DataValue.period).distinct()))
    return {p.iso for p in stored if p and start and end and start <= p.start and p.end <= end}


def statement(session: Session, query: Query) -> Select[tuple[DataValue]]:
    """The SELECT a query asks for; 409 when it asks outside the client's hierarchy (checked first, as
    DHIS2 decides access before it validates) or lacks what DHIS2 requires."""
    org_units = _viewable(session, query)
    if not (query.data_sets or query.data_elements):
        raise Conflict("At least one valid data set or data element must be specified")
    if not (query.periods or (query.start_date and query.end_date) or query.last_updated):
        raise Conflict("At least one valid period, start/end dates or last updated must be specified")
    if not org_units:
        raise Conflict("At least one valid organisation unit must be specified")
    elements = set(query.data_elements)
    if query.data_sets:
        dse = metadata.DataSetElement
        elements |= set(
            session.scalars(select(dse.data_element_uid).where(dse.data_set_uid.in_(query.data_sets)))
        )
    stmt = select(DataValue).where(DataValue.data_element.in_(elements))
    if query.children:
        ou = metadata.OrgUnit
        paths = [p for p in session.scalars(select(ou.path).where(ou.uid.in_(org_units))) if p]
        below = select(ou.uid).where(or_(*[ou.path.startswith(f"{p}/", autoescape=True) for p in paths]))
        stmt = stmt.where(or_(DataValue.org_unit.in_(org_units), DataValue.org_unit.in_(below)))
    else:
        stmt = stmt.where(DataValue.org_unit.in_(org_units))
    wanted = {p.iso for p in map(periods.parse, query.periods) if p}
    if query.start_date and query.end_date:
        wanted |= _periods_between(session, query)
    if query.periods or (query.start_date and query.end_date):
        stmt = stmt.where(DataValue.period.in_(wanted))
    if query.last_updated:
        stmt = stmt.where(DataValue.last_updated >= query.last_updated)
    if query.attribute_option_combo:
        stmt = stmt.where(DataValue.attribute_option_combo == query.attribute_option_combo)
    if not query.include_deleted:
        stmt = stmt.where(DataValue.deleted.is_(False))
    return stmt.order_by(DataValue.org_unit, DataValue.period, DataValue.data_element)


def _document(value: DataValue) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "dataElement": value.data_element,
        "period": value.period,
        "orgUnit": value.org_unit,
        "categoryOptionCombo": value.category_option_combo,
        "attributeOptionCombo": value.attribute_option_combo,
        "value": value.value,
        "storedBy": value.stored_by,
        "created": value.created.isoformat(),
        "lastUpdated": value.last_updated.isoformat(),
        "followup": value.followup,
    }
    if value.comment is not None:
        doc["comment"] = value.comment
    if value.deleted:
        doc["deleted"] = True
    return doc


def _rows(db: Database, query: Query) -> Iterator[DataValue]:
    with db.session() as session:
        stmt = statement(session, query)
        yield from session.scalars(stmt.execution_options(yield_per=BATCH))


def check(db: Database, query: Query) -> None:
    """Raise the 409 DHIS2 gives for an incomplete query, before a streamed answer starts."""
    with db.session() as session:
        statement(session, query)


def as_json(db: Database, query: Query) -> Iterator[bytes]:
    yield b'{"dataValues":['
    for n, value in enumerate(_rows(db, query)):
        yield (b"," if n else b"") + orjson.dumps(_document(value))
    yield b"]}"


def as_xml(db: Database, query: Query) -> Iterator[bytes]:
    yield b'<?xml version="1.0" encoding="UTF-8"?><dataValueSet xmlns="http://dhis2.org/schema/dxf/2.0">'
    for value in _rows(db, query):
        doc = _document(value)
        attrs = " ".join(f"{k}={quoteattr(str(v).lower() if isinstance(v, bool) else str(v))}"
                         for k, v in doc.items() if v is not None)  # fmt: skip
        yield f"<dataValue {attrs}/>".encode()
    yield b"</dataValueSet>"


def as_csv(db: Database, query: Query) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for value in _rows(db, query):
        writer.writerow([value.data_element, value.period, value.org_unit, value.category_option_combo,
                         value.attribute_option_combo, value.value, value.stored_by,
                         value.last_updated.isoformat(), value.comment, str(value.followup).lower(),
                         str(value.deleted).lower()])  # fmt: skip
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def single(
    session: Session, *, key: tuple[str, str, str, str, str], roots: tuple[str, ...] = ()
) -> DataValue:
    """The live value at (org unit, period, data element, COC, AOC); 404 when there is none, 409
    (E2020) when the org unit is not inside ``roots`` (when there are any)."""
    org_unit = key[0]
    if roots and not org_units_within(session, uids=[org_unit], roots=roots):
        raise _outside(NOT_IN_HIERARCHY, org_unit)
    value = session.get(DataValue, key)
    if value is None or value.deleted:
        raise NotFound("Data value does not exist")
    return value
