"""Transaction log rules: open before work, close with status and orchestrations, list, recover, retain.

The hot-path writes are Core statements (no ORM unit of work) that the gateway's log
writer runs prepared and in groups, to keep the per-request cost of logging small.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from hub.db.base import utcnow
from hub.db.batches import in_batches
from hub.errors import BadRequest, NotFound
from hub.instances.service import Orphans
from hub.outbox.models import Delivery, DeliveryStatus
from hub.transactions.models import Status, Transaction

# requests per statement when rows left unconfirmed are failed (bounded IN lists)
UNCONFIRMED_BATCH = 500
FINAL = {Status.SUCCESSFUL, Status.COMPLETED, Status.COMPLETED_WITH_ERRORS, Status.FAILED}


# What a secondary route's outcome can make of a settled transaction: a Failed one stays Failed
REFINED = frozenset({Status.SUCCESSFUL, Status.COMPLETED, Status.COMPLETED_WITH_ERRORS})
# How OpenHIM records a route that gave no answer (or one it could not read): as a 500
NO_ANSWER = 500


def status_for(code: int) -> Status:
    """OpenHIM's rule for a primary route's HTTP status: 2xx Successful, 5xx Failed, else Completed."""
    if 200 <= code < 300:
        return Status.SUCCESSFUL
    return Status.FAILED if code >= 500 else Status.COMPLETED


def final_status(primary: int, routes: Iterable[int]) -> Status:
    """OpenHIM's setFinalStatus (messageStore.js) when the primary gave no mediator status:
    ``primary`` is its HTTP status, ``routes`` the secondaries'. A 5xx primary fails the
    transaction; else a 5xx secondary makes it Completed with error(s), and any other secondary
    that is not 2xx makes it Completed."""
    codes = list(routes)
    if primary >= 500:
        return Status.FAILED
    if any(code >= 500 for code in codes):
        return Status.COMPLETED_WITH_ERRORS
    if all(200 <= code < 300 for code in codes):
        return status_for(primary)
    return Status.COMPLETED


def route_status(status: str, last_status: int | None) -> int:
    """A settled secondary delivery as the HTTP status OpenHIM counts for its route: its answer's,
    or :data:`NO_ANSWER` when it had none, or was refused without a 4xx (an invalid mediator
    reply, or one reporting Failed)."""
    if last_status is None or (status == DeliveryStatus.FAILED and not 400 <= last_status < 500):
        return NO_ANSWER
    return last_status


@dataclass(slots=True)
class Opening:
    """What is known of a request before any work: written as the Processing row."""

    request_id: str
    method: str
    path: str
    query: str
    client_id: str | None
    channel_pk: int | None
    channel_name: str | None
    request_headers: dict[str, str]
    request_body: str | None
    request_body_size: int
    request_stored: bool
    parent_id: int | None = None


@dataclass(slots=True)
class Closing:
    status: Status
    response_status: int | None
    response_headers: dict[str, str] | None
    response_body: str | None
    orchestrations: list[dict[str, Any]]
    properties: dict[str, Any]
    error: dict[str, Any] | None = None
    mediator_urn: str | None = None
    status_reported: bool = False  # by the primary's mediator: see settle_routes


TRANSACTIONS = Transaction.__table__
# Core statements over the table, not the ORM entity: the gateway's log writer runs them
# prepared (hub.db.session.Prepared), so their rows name every column they set, and runs
OPEN = insert(TRANSACTIONS).returning(TRANSACTIONS.c.id)
OPEN_COLUMNS = (
    *Opening.__slots__,
    "status",
    "started_at",
    "orchestrations",
    "properties",
    "bodies_culled",
    "instance",
)
CLOSE = update(TRANSACTIONS).where(TRANSACTIONS.c.id == bindparam("transaction_id"))
CLOSE_COLUMNS = (*Closing.__slots__, "duration_ms", "transaction_id", "finished_at")

# The values of a row in the order of the columns above; the last ones (from the moment of the
# write, and the process that writes) are the same for every row a group writes.
_opening_values = attrgetter(*Opening.__slots__)
_closing_values = attrgetter(*Closing.__slots__)


def opening_values(opening: Opening) -> tuple[Any, ...]:
    return _opening_values(opening)


def opening_shared(started: datetime, instance: str | None) -> tuple[Any, ...]:
    return (Status.PROCESSING, started, [], {}, False, instance)


def closing_values(transaction_id: int, closing: Closing, duration_ms: float) -> tuple[Any, ...]:
    return (*_closing_values(closing), duration_ms, transaction_id)


def closing_shared(finished: datetime) -> tuple[Any, ...]:
    return (finished,)


def opening_row(opening: Opening, started: datetime, instance: str | None) -> dict[str, Any]:
    """The values of the Processing row, for :data:`OPEN`; ``instance``: the ``hub serve`` process
    that owns it until it is closed (``hub.instances``), None outside one."""
    values = (*opening_values(opening), *opening_shared(started, instance))
    return dict(zip(OPEN_COLUMNS, values, strict=True))


def closing_row(
    transaction_id: int, closing: Closing, started: datetime, finished: datetime
) -> dict[str, Any]:
    """The values that record an outcome, for :data:`CLOSE`."""
    duration_ms = (finished - started).total_seconds() * 1000
    values = (*closing_values(transaction_id, closing, duration_ms), *closing_shared(finished))
    return dict(zip(CLOSE_COLUMNS, values, strict=True))


def open_transaction(
    session: Session, opening: Opening, *, instance: str | None = None
) -> tuple[int, datetime]:
    """Write the Processing row (see :func:`opening_row`); returns its id and start time."""
    started = utcnow()
    return session.execute(OPEN, opening_row(opening, started, instance)).scalar_one(), started


def close_transaction(session: Session, transaction_id: int, closing: Closing, started: datetime) -> None:
    """Record the outcome; the caller adds any deliveries in the same DB transaction."""
    session.execute(CLOSE, closing_row(transaction_id, closing, started, utcnow()))


def get(session: Session, transaction_id: int) -> Transaction:
    row = session.get(Transaction, transaction_id)
    if row is None:
        raise NotFound(f"transaction {transaction_id} does not exist")
    return row


@dataclass(slots=True)
class Filters:
    status: str | None = None
    channel: str | None = None
    client_id: str | None = None
    parent_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, query: Any) -> Any:
        if self.status:
            if self.status not in {s.value for s in Status}:
                raise BadRequest(f"unknown status {self.status!r}; one of {[s.value for s in Status]}")
            query = query.where(Transaction.status == self.status)
        if self.channel:
            query = query.where(Transaction.channel_name == self.channel)
        if self.client_id:
            query = query.where(Transaction.client_id == self.client_id)
        if self.parent_id is not None:
            query = query.where(Transaction.parent_id == self.parent_id)
        if self.since:
            query = query.where(Transaction.started_at >= self.since)
        if self.until:
            query = query.where(Transaction.started_at < self.until)
        return query


def page_query(
    filters: Filters, *, before_id: int | None = None, limit: int = 50
) -> Select[tuple[Transaction]]:
    """Newest first; pass the last id seen as ``before_id`` for the next page. Every filter has an
    index ending in ``id`` (models), so a page is a range scan, not a sort."""
    query = filters.apply(select(Transaction)).order_by(Transaction.id.desc()).limit(limit)
    return query if before_id is None else query.where(Transaction.id < before_id)


def list_page(
    session: Session, *, filters: Filters, before_id: int | None = None, limit: int = 50
) -> list[Transaction]:
    return list(session.scalars(page_query(filters, before_id=before_id, limit=limit)))


def ids_matching(session: Session, *, filters: Filters, limit: int) -> list[int]:
    """What a bulk rerun by filter takes, oldest first: not a transaction already rerun to success
    (by id it still may be), so the same bulk rerun run twice does not send it again. Its
    children are found through ``ix_transactions_parent_id``."""
    child = aliased(Transaction)
    rerun_well = exists().where(
        child.parent_id == Transaction.id, child.status.in_((Status.SUCCESSFUL, Status.COMPLETED))
    )
    query = filters.apply(select(Transaction.id)).where(~rerun_well)
    return list(session.scalars(query.order_by(Transaction.id).limit(limit)))


def _fail_processing(session: Session, condition: ColumnElement[bool], message: str) -> int:
    """Mark the Processing rows ``condition`` picks as Failed with ``message``; they keep their
    request for rerun. Processing rows are few: found through ``ix_transactions_by_status``."""
    result = session.execute(
        update(Transaction)
        .where(Transaction.status == Status.PROCESSING, condition)
        .values(status=Status.FAILED, finished_at=utcnow(), error={"message": message})
    )
    return result.rowcount or 0


def recover_processing(session: Session, orphans: Orphans) -> int:
    """Mark rows left in Processing by a stopped hub process (``orphans``) as Failed."""
    message = "hub stopped while this request was in progress; rerun it if needed"
    return _fail_processing(session, orphans.condition(Transaction.instance), message)


class ClientRequest(NamedTuple):
    """A request as its row logs it: the request id, which a client may choose (``X-Request-ID``),
    so another's may be the same, and the client that sent it (None when none did: see
    ``Opening.client_id``)."""

    request_id: str
    client_id: str | None


def _rows_of(requests: Iterable[ClientRequest]) -> ColumnElement[bool]:
    """The rows of ``requests``: each client's request ids, one IN list per client (a request of
    no client matches only a row of none, through IS NULL)."""
    by_client: dict[str | None, list[str]] = {}
    for request_id, client_id in requests:
        by_client.setdefault(client_id, []).append(request_id)
    return or_(
        *(
            and_(
                Transaction.client_id.is_(None) if client_id is None else Transaction.client_id == client_id,
                Transaction.request_id.in_(request_ids),
            )
            for client_id, request_ids in by_client.items()
        )
    )


def fail_unconfirmed(session: Session, *, requests: Collection[ClientRequest], instance: str) -> int:
    """Mark as Failed the rows of ``requests`` that are still Processing: the log writer did not
    confirm their open or their close, either of which it may have committed (a close it did
    commit stands). A row is a request's only if the same client sent it, so that a client
    reusing another's request id cannot get that one's row failed."""
    message = (
        "the hub could not confirm this request's log (its log writer stopped or lost the "
        "database); its outcome was not recorded; rerun it if needed"
    )
    listed = list(requests)
    batches = (listed[at : at + UNCONFIRMED_BATCH] for at in range(0, len(listed), UNCONFIRMED_BATCH))
    mine = Transaction.instance == instance
    return sum(_fail_processing(session, and_(_rows_of(b), mine), message) for b in batches)


# Each orchestration without its request and response bodies, in order, rewritten by the database
# itself so culling never carries rows through Python.
_ORCHESTRATIONS_WITHOUT_BODIES = {
    "postgresql": """CASE WHEN jsonb_typeof(transactions.orchestrations) = 'array' THEN (
        SELECT coalesce(jsonb_agg(CASE jsonb_typeof(o.value)
            WHEN 'object' THEN o.value #- '{request,body}' #- '{response,body}' ELSE o.value END
            ORDER BY o.n), '[]'::jsonb)
        FROM jsonb_array_elements(transactions.orchestrations) WITH ORDINALITY AS o(value, n))
    ELSE transactions.orchestrations END""",
    # json_each yields an array's elements in order, and json_group_array keeps it
    "sqlite": """CASE WHEN json_type(transactions.orchestrations) = 'array' THEN (
        SELECT json_group_array(CASE o.type
            WHEN 'object' THEN json_remove(o.value, '$.request.body', '$.response.body') ELSE o.value END)
        FROM json_each(transactions.orchestrations) AS o)
    ELSE transactions.orchestrations END""",
}


def cull_bodies(session: Session, *, older_than: timedelta, now: datetime | None = None) -> int:
    """Drop request/response bodies of transactions that started before ``now - older_than``,
    the bodies inside their orchestrations too.

    The cutoff is computed from the retention age, never from the time of the last run,
    so a late or missed run never leaves bodies behind.
    """
    cutoff = (now or utcnow()) - older_than
    orchestrations = literal_column(_ORCHESTRATIONS_WITHOUT_BODIES[session.get_bind().dialect.name])
    where = [Transaction.started_at < cutoff, Transaction.bodies_culled.is_(False)]
    return in_batches(
        session,
        Transaction.id,
        where,
        lambda chosen: (
            update(Transaction)
            .where(chosen, *where)
            .values(request_body=None, response_body=None, orchestrations=orchestrations, bodies_culled=True)
        ),
    )


def _without_bodies(orchestration: dict[str, Any]) -> dict[str, Any]:
    """An orchestration as :func:`cull_bodies` leaves it: its request's and response's bodies removed."""
    doc = dict(orchestration)
    for part in ("request", "response"):
        if isinstance(doc.get(part), dict):
            doc[part] = {k: v for k, v in doc[part].items() if k != "body"}
    return doc


def purge(session: Session, *, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete transactions that started before ``now - older_than``, but for those the outbox
    still owes a delivery (pending or in flight): its outcome settles them later."""
    cutoff = (now or utcnow()) - older_than
    owed = (
        select(Delivery.id)
        .where(
            Delivery.transaction_id == Transaction.id,
            Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT]),
        )
        .exists()
    )
    where = [Transaction.started_at < cutoff, ~owed]
    return in_batches(
        session, Transaction.id, where, lambda chosen: delete(Transaction).where(chosen, *where)
    )


def append_orchestration(
    session: Session,
    transaction_id: int,
    orchestration: dict[str, Any],
    *,
    status: Status | None = None,
    response: dict[str, Any] | None = None,
    mediator: dict[str, Any] | None = None,
) -> None:
    """Add an orchestration (e.g. a queued delivery's outcome) and optionally settle the status;
    ``mediator``: the fields a mediator's reply sets (``mediator_urn``, ``properties``, ``error``)."""
    row = session.get(Transaction, transaction_id, with_for_update=True)
    if row is None:
        return
    if row.bodies_culled:
        # retention has passed this row (a delivery can settle long after, e.g. retried from the
        # outbox): what arrives now is kept without bodies, as culling would have left it
        orchestration = _without_bodies(orchestration)
        if response is not None:
            response = {**response, "body": None}
    row.orchestrations = [*row.orchestrations, orchestration]
    for name, value in (mediator or {}).items():
        setattr(row, name, value)
    if status is not None:
        row.status = status
        row.finished_at = utcnow()
    if response is not None:
        row.response_status = response.get("status")
        row.response_body = response.get("body")
    session.flush()


def settle_routes(session: Session, transaction_id: int) -> None:
    """Recompute a transaction's status from its primary's outcome and every secondary's latest
    settled one (:func:`final_status`): run whenever a delivery of it settles, so a secondary an
    admin retried to success counts as succeeded. The row lock (``append_orchestration`` takes it
    first) makes concurrent settles count one another.

    Left alone: a primary still owed (Processing, Pending Async), a Failed one, and one whose
    mediator reported the status: OpenHIM lets a mediator's status stand. Secondaries still owed
    count once they settle."""
    row = session.get(Transaction, transaction_id, with_for_update=True)
    if row is None or row.status not in REFINED or row.status_reported:
        return
    primary = row.response_status
    if primary is None:
        return
    routes = session.execute(
        select(Delivery.status, Delivery.last_status).where(
            Delivery.transaction_id == transaction_id,
            Delivery.primary.is_(False),
            Delivery.status.in_([DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.DEAD]),
        )
    )
    row.status = final_status(primary, (route_status(*route) for route in routes))
    session.flush()
