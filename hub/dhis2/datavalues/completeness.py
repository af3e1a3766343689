"""Complete data set registrations: stored like values (upsert by key, with provenance) and queued
to the DHIS2 targets as ``POST /api/completeDataSetRegistrations``."""

from __future__ import annotations

import contextlib
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.auth.principal import Principal
from hub.db.base import utcnow
from hub.db.session import Database
from hub.dhis2.config import Dhis2Target
from hub.dhis2.datavalues import log, periods
from hub.dhis2.datavalues.deliveries import post
from hub.dhis2.datavalues.models import CompleteRegistration
from hub.dhis2.datavalues.parsers import Header, MalformedPayload, field
from hub.dhis2.datavalues.resolver import Resolver, Schemes
from hub.dhis2.datavalues.summary import Code, ImportSummary
from hub.dhis2.datavalues.validation import stored_by_problem
from hub.errors import BadRequest, Conflict
from hub.outbox.service import DeliverySpec, enqueue
from hub.settings import Settings

KEY = ("data_set", "period", "org_unit", "attribute_option_combo")
ARRAY = "completeDataSetRegistrations"
TEXT_FIELDS = ("dataSet", "period", "organisationUnit", "orgUnit", "attributeOptionCombo", "date", "storedBy")
# The forms DHIS2 reads a completion date in (DateUtils.parseDate): yyyy, yyyy-MM, yyyy-MM-dd, then
# the time after a T (or a space) to the hour, minute, second or millisecond, with an optional offset.
_DATE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?)?"
    r"(?:Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?"
)


@dataclass(frozen=True, slots=True)
class Registration:
    data_set: str
    period: str
    org_unit: str
    attribute_option_combo: str
    date: str | None
    stored_by: str | None
    completed: bool


def register(session: Session, *, registrations: list[Registration], client: str, transaction_id: int) -> int:
    """Upsert ``registrations``; returns how many already existed (DHIS2 counts those as updated)."""
    if not registrations:
        return 0
    table = CompleteRegistration.__table__
    existing = sum(
        session.get(CompleteRegistration, tuple(getattr(r, k) for k in KEY)) is not None
        for r in registrations
    )
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now = utcnow()
    rows = [
        {**asdict(r), "client_id": client, "transaction_id": transaction_id, "last_updated": now}
        for r in registrations
    ]
    statement = dialect.insert(table).values(rows)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=list(KEY),
            set_={
                c: statement.excluded[c]
                for c in ("date", "stored_by", "completed", "client_id", "transaction_id", "last_updated")
            },
        )
    )
    return existing


def _document(registration: Registration) -> dict[str, Any]:
    return {
        "dataSet": registration.data_set,
        "period": registration.period,
        "organisationUnit": registration.org_unit,
        "attributeOptionCombo": registration.attribute_option_combo,
        "date": registration.date,
        "storedBy": registration.stored_by,
        "completed": registration.completed,
    }


def deliveries(
    registrations: list[Registration], *, targets: list[Dhis2Target], settings: Settings
) -> list[DeliverySpec]:
    """One ``POST /api/completeDataSetRegistrations`` per target."""
    if not registrations or not targets:
        return []
    body = orjson.dumps({"completeDataSetRegistrations": [_document(r) for r in registrations]})
    return post("/api/completeDataSetRegistrations", body, query={}, targets=targets, settings=settings)


def check_date(text: str) -> None:
    """Raise :class:`Conflict` (409) for a completion date DHIS2 cannot read, with Joda's words:
    DHIS2 fails the whole import on one (its IllegalArgumentException)."""
    parts = _DATE.fullmatch(text)
    if parts is not None:
        year, month, day, hour, minute, second = (int(p) if p else None for p in parts.groups())
        with contextlib.suppress(ValueError):  # a day or an hour past its calendar's
            datetime(year or 0, month or 1, day or 1, hour or 0, minute or 0, second or 0)
            return
    raise Conflict(f'Invalid format: "{text}"')


def _as_read(index: int, item: Any) -> Any:
    """A registration with its text fields as DHIS2 reads them (numbers spelled out); raises
    :class:`MalformedPayload` for an object or an array in one, or in ``completed``."""
    if not isinstance(item, dict):
        return item
    if isinstance(item.get("completed"), dict | list):
        raise MalformedPayload(f"{ARRAY}[{index}].completed must be true or false")
    read = {**item, **{k: field(item[k], k, index, array=ARRAY) for k in TEXT_FIELDS if k in item}}
    if read.get("date"):
        check_date(read["date"])
    return read


def _check(
    index: int, item: dict[str, Any], resolver: Resolver, summary: ImportSummary, client: str
) -> Registration | None:
    data_set = resolver.data_set(str(item.get("dataSet") or ""))
    if data_set is None:
        return summary.conflict(index, Code.E7600, str(item.get("dataSet") or ""))
    period = periods.parse(str(item.get("period") or ""))
    if period is None:
        return summary.conflict(index, Code.E7611, str(item.get("period") or ""))
    ou_id = str(item.get("organisationUnit") or item.get("orgUnit") or "")
    unit = resolver.org_unit(ou_id)
    if unit is None:
        return summary.conflict(index, Code.E7612, ou_id)
    if not unit[1]:
        return summary.conflict(index, Code.E7617, ou_id, client)
    aoc_id = item.get("attributeOptionCombo")
    aoc = (
        resolver.attribute_option_combo(aoc_id, data_set.category_combo_uid)
        if aoc_id
        else resolver.default_coc
    )
    if aoc is None:
        return summary.conflict(index, Code.E7615, str(aoc_id))
    stored_by = item.get("storedBy") or client
    if problem := stored_by_problem(stored_by):
        return summary.conflict(index, Code.E7637, problem)
    return Registration(
        data_set.uid,
        period.iso,
        unit[0],
        aoc,
        item.get("date"),
        stored_by,
        item.get("completed", True) is not False,
    )


def import_registrations(
    db: Database,
    *,
    document: dict[str, Any],
    params: dict[str, str],
    client: Principal,
    targets: list[Dhis2Target],
    settings: Settings,
) -> ImportSummary:
    """Validate, store and queue a ``{"completeDataSetRegistrations": [...]}`` document, logged."""
    items = document.get(ARRAY) if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise BadRequest('expected {"completeDataSetRegistrations": [...]}')
    try:
        items = [_as_read(n, item) for n, item in enumerate(items)]
    except MalformedPayload as exc:
        raise BadRequest(str(exc)) from exc
    payload = orjson.dumps(document)
    transaction_id, started = log.open_entry(db, client=client.name, method="POST",
                                             path="/api/completeDataSetRegistrations", query="", headers={},
                                             body=payload, size=len(payload),
                                             instance=settings.instance_name)  # fmt: skip
    summary = ImportSummary(dry_run=params.get("dryRun", "false").lower() == "true")
    schemes = Schemes.from_request(params, Header(), "uid")
    with log.failed_if_raising(db, transaction_id=transaction_id, started=started), db.session() as session:
        resolver = Resolver(session, schemes=schemes, roots=client.org_units)
        checked = [_check(n, i, resolver, summary, client.name) if isinstance(i, dict) else None
                   for n, i in enumerate(items)]  # fmt: skip
        accepted = [r for r in checked if r is not None]
        if not summary.dry_run:
            existing = register(
                session, registrations=accepted, client=client.name, transaction_id=transaction_id
            )
            enqueue(session, transaction_id=transaction_id,
                    deliveries=deliveries(accepted, targets=targets, settings=settings))  # fmt: skip
            summary.count.updated += existing
            summary.count.imported += len(accepted) - existing
    summary.count.ignored += sum(1 for item in items if not isinstance(item, dict))
    log.close_entry(db, transaction_id=transaction_id, started=started, status_code=summary.http_status(38),
                    body=summary.summary_body(38), summary=summary)  # fmt: skip
    return summary
