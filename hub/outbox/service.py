"""Outbox rules: enqueue with the log update; claim, settle and retry for the workers and the admin API.

pending ──claim──▶ in_flight ──2xx/3xx──▶ delivered
   ▲                  │ ├─────other 4xx──▶ failed   (recorded, not retried; also a mediator's
   │   back-off       │ │                            invalid reply, or one that reports Failed)
   │                  │ └─transient, last attempt─▶ dead
   └───────transient──┘
failed/dead ──retry (admin)──▶ pending    (not once retention has culled the body)

A claim is a lease: a worker that dies mid-send leaves its rows in_flight until the
lease runs out, then any worker reclaims them. Settling is guarded by ``claimed_by``
so a worker that lost its lease cannot overwrite the new owner's result; a worker starts a send
only while it holds its lease, and claims again only once its batch has ended (``worker.py``).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import ColumnElement, Select, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from hub.channels.models import Channel
from hub.channels.schemas import BodyPolicy
from hub.db.base import clock, utcnow
from hub.db.batches import committed_batches, in_batches
from hub.db.session import Database
from hub.errors import Conflict, NotFound
from hub.gateway.body_policy import (
    body_bytes,
    call_orchestration,
    stored_body,
    stored_orchestration,
    stored_reply_fields,
    stored_url,
)
from hub.mediators.response import InvalidMediatorReply, MediatorResponse, parse_reply
from hub.metrics import GaugeReader
from hub.outbox.models import Delivery, DeliveryStatus
from hub.transactions import service as transactions
from hub.transactions.models import Status, Transaction

IDEMPOTENCY_HEADER = "Idempotency-Key"
EXCERPT_BYTES = 2048
TRANSIENT_4XX = frozenset({408, 429})
RETRY_AFTER_STATUSES = frozenset({429, 503})
UNSENT = (DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT)
GAUGED = (*UNSENT, DeliveryStatus.FAILED, DeliveryStatus.DEAD)
RETRYABLE = (DeliveryStatus.FAILED, DeliveryStatus.DEAD)
SETTLED = (DeliveryStatus.DELIVERED, *RETRYABLE)
# deliveries reset per statement when many are sent again (a bounded IN list; progress between)
RETRY_BATCH = 500
# The body of a delivery retention has culled. enqueue stores an empty body as NULL, so an empty
# one means only this: the delivery can no longer be sent.
CULLED = b""


@dataclass(slots=True)
class DeliverySpec:
    route_name: str
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    timeout_s: float
    max_attempts: int
    primary: bool = False
    auth: dict[str, Any] | None = None


@dataclass(slots=True)
class Attempt:
    """What one send produced: an HTTP answer (``status``) or no answer and an ``error``.

    A mediator's ``application/json+openhim`` answer is read into ``reply``, its own account of
    the work; when it is not a valid one, the answer carries an ``error`` instead.
    """

    started: datetime
    elapsed_ms: float
    status: int | None = None
    body: bytes = b""
    retry_after: str | None = None
    error: str | None = None
    reply: MediatorResponse | None = None


@dataclass(frozen=True, slots=True)
class Backoff:
    base_s: float
    max_s: float


def enqueue(session: Session, *, transaction_id: int | None, deliveries: list[DeliverySpec]) -> list[str]:
    """Write deliveries in the caller's DB transaction; returns their idempotency keys."""
    if not deliveries:
        return []
    now = utcnow()
    rows = [
        {
            "transaction_id": transaction_id,
            "route_name": d.route_name,
            "primary": d.primary,
            "method": d.method,
            "url": d.url,
            "headers": d.headers,
            "body": d.body or None,  # never CULLED
            "timeout_s": d.timeout_s,
            "max_attempts": d.max_attempts,
            "auth": d.auth,
            "idempotency_key": uuid.uuid4().hex,
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for d in deliveries
    ]
    session.execute(insert(Delivery), rows)
    return [r["idempotency_key"] for r in rows]


# -- retry policy (pure) -------------------------------------------------------------------------------


def backoff_delay(attempt: int, *, backoff: Backoff, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): "full jitter" back-off.

    Uniform in [0, min(max, base·2^(attempt-1))], so workers that failed together spread out
    instead of hammering a recovering upstream in lock-step.
    """
    ceiling = min(backoff.max_s, backoff.base_s * 2 ** min(attempt - 1, 62))
    return ceiling * rng()


def retry_after_s(value: str | None, *, now: datetime) -> float | None:
    """A Retry-After header as seconds from ``now``; None if absent or bad. Delta-seconds, or an
    HTTP-date in any of the three forms RFC 9110 has a recipient accept: IMF-fixdate (``Sun, 06 Nov
    1994 08:49:37 GMT``), RFC 850 (``Sunday, 06-Nov-94 08:49:37 GMT``) and asctime (``Sun Nov  6
    08:49:37 1994``), which names no zone: an HTTP-date is UTC."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²".isdigit() too, which float() refuses
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def answered(
    started: datetime,
    elapsed_ms: float,
    *,
    status: int,
    body: bytes,
    content_type: str | None,
    retry_after: str | None,
) -> Attempt:
    """An HTTP answer; a mediator's ``application/json+openhim`` reply is read as the gateway reads it."""
    attempt = Attempt(started, elapsed_ms, status=status, body=body, retry_after=retry_after)
    try:
        attempt.reply = parse_reply(content_type, body)
    except InvalidMediatorReply as exc:
        attempt.error = str(exc)
    return attempt


def unrecorded(attempt: Attempt, exc: Exception) -> Attempt:
    """``attempt`` as a failed one without an answer, for when recording it raised ``exc``: it is
    retried under the same key and dead-lettered at the last attempt, instead of being resent at
    every lease expiry uncounted. Only the exception's type is kept: its text can hold the SQL
    and the values being written."""
    answer = attempt.error if attempt.status is None else f"HTTP {attempt.status}"
    return Attempt(
        attempt.started,
        attempt.elapsed_ms,
        error=f"the hub could not record the outcome ({answer}): {type(exc).__name__}",
    )


def is_transient(attempt: Attempt) -> bool:
    """Worth retrying: no answer at all, a 5xx, 408 or 429, also as the response inside a
    mediator's reply (its own upstream was down), whatever the HTTP status of the reply."""
    return _transient_status(attempt.status) or (
        attempt.reply is not None and _transient_status(attempt.reply.response.status)
    )


def _transient_status(status: int | None) -> bool:
    return status is None or status >= 500 or status in TRANSIENT_4XX


def verdict(attempt: Attempt, *, attempts: int, max_attempts: int) -> DeliveryStatus:
    """The delivery's status after ``attempt``, its ``attempts``-th; PENDING means "try again".

    Any other answer settles it: delivered, unless the upstream refused it (4xx) or redirected it
    (3xx: not followed, so the data did not arrive; the route's URL needs fixing), or it is a
    mediator's reply that is invalid or reports the work Failed.
    """
    if is_transient(attempt):
        return DeliveryStatus.DEAD if attempts >= max_attempts else DeliveryStatus.PENDING
    if attempt.status is not None and 300 <= attempt.status < 500:
        return DeliveryStatus.FAILED
    if attempt.error is not None or (
        attempt.reply is not None and attempt.reply.transaction_status == Status.FAILED
    ):
        return DeliveryStatus.FAILED
    return DeliveryStatus.DELIVERED


def next_delay(attempt: Attempt, *, attempts: int, backoff: Backoff, now: datetime) -> float:
    """The upstream's Retry-After (429/503) when it gives one, capped by the back-off maximum."""
    if attempt.status in RETRY_AFTER_STATUSES:
        asked = retry_after_s(attempt.retry_after, now=now)
        if asked is not None:
            return min(asked, backoff.max_s)
    return backoff_delay(attempts, backoff=backoff)


def excerpt(body: bytes | None, limit: int = EXCERPT_BYTES) -> str:
    """The first ``limit`` bytes as text; bytes that are not UTF-8 become U+FFFD."""
    return (body or b"")[:limit].decode("utf-8", "replace")


def channel_policy(session: Session, transaction_id: int | None) -> BodyPolicy | None:
    """The body policy of the channel a delivery's transaction came through; None when it came
    through none (e.g. the DHIS2 API's own deliveries)."""
    if transaction_id is None:
        return None
    return channel_policies(session, [transaction_id]).get(transaction_id)


def channel_policies(session: Session, transaction_ids: Iterable[int]) -> dict[int, BodyPolicy]:
    """:func:`channel_policy` of many transactions in one query; those through no channel are absent."""
    ids = set(transaction_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Transaction.id, Channel.body_policy)
        .join(Channel, Transaction.channel_pk == Channel.id)
        .where(Transaction.id.in_(ids))
    )
    return {tx_id: BodyPolicy.model_validate(stored) for tx_id, stored in rows}


def kept_response(policy: BodyPolicy | None, attempt: Attempt) -> str | None:
    """What of an attempt's answer body may be kept (on the delivery and its transaction): the body
    policy of the channel the delivery came through applies as it does to the gateway's own log
    (fields redacted, nothing when the channel stores no responses), then cut to an excerpt.
    A mediator's answer is the response inside its reply, as the gateway takes it."""
    if attempt.status is None:
        return None
    body = attempt.body if attempt.reply is None else body_bytes(attempt.reply.response.body)
    if policy is None:
        return excerpt(body).replace("\x00", "\ufffd")  # PostgreSQL's text refuses NUL
    text, _ = stored_body(body, policy, store=policy.store_response)
    return None if text is None else text[:EXCERPT_BYTES]


# -- the worker's side: claim, renew, release, settle ----------------------------------------------------


def claim(
    session: Session, *, worker_id: str, limit: int, lease_s: float, excluding: Collection[int] = ()
) -> list[Delivery]:
    """Take up to ``limit`` due pending deliveries and expired leases for ``worker_id``, none of
    the ids ``excluding`` (those the worker is still sending).

    On PostgreSQL the inner SELECT locks with SKIP LOCKED, so concurrent workers each get
    different rows without waiting on one another. SQLite has no row locks and renders no
    lock clause; its sessions begin IMMEDIATE, which serialises claims instead. Leases are set
    and judged on the database's clock (:func:`~hub.db.base.clock`), which every worker shares: a
    worker whose own clock runs behind would otherwise set leases that others find already out.
    """
    now = clock(session)
    due = (
        select(Delivery.id)
        .where(
            or_(
                (Delivery.status == DeliveryStatus.PENDING) & (Delivery.next_attempt_at <= now),
                (Delivery.status == DeliveryStatus.IN_FLIGHT) & (Delivery.lease_until < now),
            )
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if excluding:
        due = due.where(Delivery.id.not_in(list(excluding)))
    claimed = session.scalars(
        update(Delivery)
        .where(Delivery.id.in_(due.scalar_subquery()))
        .values(
            status=DeliveryStatus.IN_FLIGHT,
            claimed_by=worker_id,
            lease_until=now + timedelta(seconds=lease_s),
            updated_at=now,
        )
        .returning(Delivery)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed, key=lambda d: (d.next_attempt_at, d.id))


def _mine(worker_id: str, ids: Iterable[int]) -> tuple[ColumnElement[bool], ...]:
    """Rows this worker still holds: the guard on every write after a claim."""
    return (
        Delivery.id.in_(list(ids)),
        Delivery.claimed_by == worker_id,
        Delivery.status == DeliveryStatus.IN_FLIGHT,
    )


def renew(session: Session, *, worker_id: str, ids: Iterable[int], lease_s: float) -> list[int]:
    """Extend this worker's leases on deliveries it is still sending; the ids it still holds (one
    whose lease ran out may have gone to another worker)."""
    return list(
        session.scalars(
            update(Delivery)
            .where(*_mine(worker_id, ids))
            .values(lease_until=clock(session) + timedelta(seconds=lease_s))
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
    )


def release(session: Session, *, worker_id: str, ids: Iterable[int]) -> int:
    """Hand back claimed deliveries this worker will not send (it is stopping); no attempt is counted."""
    result = session.execute(
        update(Delivery)
        .where(*_mine(worker_id, ids))
        .values(status=DeliveryStatus.PENDING, claimed_by=None, lease_until=None, updated_at=clock(session))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def settle(
    session: Session,
    *,
    delivery: Delivery,
    worker_id: str,
    attempt: Attempt,
    backoff: Backoff,
    record_outcome: bool = True,
) -> DeliveryStatus | None:
    """Record ``attempt`` on a delivery this worker claimed; None if its lease was lost meanwhile.

    A final outcome is also written to the delivery's transaction in the same DB transaction,
    unless ``record_outcome`` is False: the worker's fallback when that failed. The next attempt
    is due on the database's clock, as claims judge it.
    """
    now = clock(session)
    attempts = delivery.attempts + 1
    status = verdict(attempt, attempts=attempts, max_attempts=delivery.max_attempts)
    # without an answer there is nothing the policy governs (and the fallback reads no channel)
    policy = None if attempt.status is None else channel_policy(session, delivery.transaction_id)
    kept = kept_response(policy, attempt)
    values: dict[str, Any] = {
        "status": status,
        "attempts": attempts,
        "last_status": attempt.status,
        "last_error": _error_text(attempt, status),
        "last_response": kept,
        "lease_until": None,  # claimed_by stays: it tells which worker made the last attempt
        "updated_at": now,
    }
    if status is DeliveryStatus.DELIVERED:
        values["delivered_at"] = now
    elif status is DeliveryStatus.PENDING:
        delay = next_delay(attempt, attempts=attempts, backoff=backoff, now=now)
        values["next_attempt_at"] = now + timedelta(seconds=delay)
    result = session.execute(
        update(Delivery)
        .where(*_mine(worker_id, [delivery.id]))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    if record_outcome and status is not DeliveryStatus.PENDING and delivery.transaction_id is not None:
        _record_outcome(session, delivery.transaction_id, delivery, status, attempt, attempts, kept, policy)
    return status


def _error_text(attempt: Attempt, status: DeliveryStatus) -> str | None:
    if attempt.error is not None:
        return attempt.error
    if status is DeliveryStatus.DELIVERED:
        return None
    answer = f"upstream answered HTTP {attempt.status}"
    if attempt.reply is None:
        return answer
    return f"{answer}; the mediator's outcome: {attempt.reply.transaction_status}"


def orchestration(
    delivery: Delivery, attempt: Attempt, attempts: int, kept: str | None, policy: BodyPolicy
) -> dict[str, Any]:
    """The OpenHIM orchestration for a delivery's final attempt; ``kept``: its answer, as it may be
    kept; its URL's query as ``policy`` stores one."""
    doc = call_orchestration(
        delivery.route_name,
        delivery.method,
        stored_url(delivery.url, policy),
        attempt.started,
        attempt.elapsed_ms,
        attempt.status,
    )
    doc["attempts"] = attempts
    if "response" in doc:
        doc["response"]["body"] = kept
    if attempt.error is not None:
        doc["error"] = {"message": attempt.error}
    return doc


def _transaction_status(status: DeliveryStatus, attempt: Attempt) -> Status:
    """A queued primary's final outcome in OpenHIM's words, as if the gateway had called it: a
    mediator's reply gives its own."""
    if status is DeliveryStatus.DEAD or attempt.status is None or attempt.error is not None:
        return Status.FAILED
    if attempt.reply is not None:
        return attempt.reply.transaction_status
    return transactions.status_for(attempt.status)


def _record_outcome(
    session: Session,
    tx_id: int,
    delivery: Delivery,
    status: DeliveryStatus,
    attempt: Attempt,
    attempts: int,
    kept: str | None,
    policy: BodyPolicy | None,
) -> None:
    """Append the delivery's orchestration, then a mediator's own, to its transaction. A queued
    primary's outcome settles the transaction (status and response); then every settled route
    refines it (``transactions.settle_routes``)."""
    # through no channel, the default policy: it still masks credentials (read here when the
    # attempt got no answer, so the caller did not)
    reported = policy or channel_policy(session, tx_id) or BodyPolicy()
    docs = [orchestration(delivery, attempt, attempts, kept, reported)]
    if attempt.reply is not None:
        docs += [
            stored_orchestration(o.model_dump(mode="json", exclude_none=True), reported)
            for o in attempt.reply.orchestrations
        ]
    tx_status: Status | None = None
    response: dict[str, Any] | None = None
    mediator: dict[str, Any] | None = None
    if delivery.primary:
        tx_status = _transaction_status(status, attempt)
        if attempt.status is not None:
            answer = attempt.status if attempt.reply is None else attempt.reply.response.status
            response = {"status": answer, "body": kept}
        if attempt.reply is not None:
            mediator = stored_reply_fields(attempt.reply, reported)
    # append_orchestration locks the transaction row first, so settle_routes sees every route
    # settled before it, the secondaries that settled while a queued primary was owed too.
    *earlier, last = docs
    for doc in earlier:
        transactions.append_orchestration(session, tx_id, doc)
    transactions.append_orchestration(
        session, tx_id, last, status=tx_status, response=response, mediator=mediator
    )
    transactions.settle_routes(session, tx_id)


# -- the admin's side: list, inspect, retry --------------------------------------------------------------


@dataclass(slots=True)
class Filters:
    status: DeliveryStatus | None = None
    transaction_id: int | None = None
    route: str | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.status is not None:
            query = query.where(Delivery.status == self.status)
        if self.transaction_id is not None:
            query = query.where(Delivery.transaction_id == self.transaction_id)
        if self.route is not None:
            query = query.where(Delivery.route_name == self.route)
        return query


def page_query(filters: Filters, *, before_id: int | None = None, limit: int = 50) -> Select[tuple[Delivery]]:
    """Newest first; pass the last id seen as ``before_id`` for the next page. Every filter has an
    index ending in ``id`` (models), so a page is a range scan, not a sort."""
    query = filters.apply(select(Delivery)).order_by(Delivery.id.desc()).limit(limit)
    return query if before_id is None else query.where(Delivery.id < before_id)


def list_page(
    session: Session, *, filters: Filters, before_id: int | None = None, limit: int = 50
) -> list[Delivery]:
    return list(session.scalars(page_query(filters, before_id=before_id, limit=limit)))


def get(session: Session, delivery_id: int) -> Delivery:
    row = session.get(Delivery, delivery_id)
    if row is None:
        raise NotFound(f"delivery {delivery_id} does not exist")
    return row


def _reset(session: Session, where: Any) -> list[int]:
    now = utcnow()
    return list(
        session.scalars(
            update(Delivery)
            .where(where, Delivery.status.in_(RETRYABLE), Delivery.body.is_distinct_from(CULLED))
            .values(
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                claimed_by=None,
                lease_until=None,
                updated_at=now,
            )
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
    )


def retry(session: Session, *, delivery_id: int) -> Delivery:
    """Send a failed or dead delivery again from a fresh attempt count."""
    row = get(session, delivery_id)
    if not _reset(session, Delivery.id == delivery_id):
        if row.status not in RETRYABLE:
            raise Conflict(
                f"delivery {delivery_id} is {row.status}; "
                f"only {' or '.join(RETRYABLE)} deliveries can be retried"
            )
        raise Conflict(f"delivery {delivery_id} cannot be sent again: retention has dropped its body")
    session.refresh(row)
    return row


def _retryable(filters: Filters) -> Select[tuple[int]]:
    """The ids of the failed or dead deliveries matching ``filters`` (status, if given, must be one
    of those)."""
    if filters.status is not None and filters.status not in RETRYABLE:
        raise Conflict(f"only {' or '.join(RETRYABLE)} deliveries can be retried, not {filters.status}")
    return filters.apply(select(Delivery.id)).where(Delivery.status.in_(RETRYABLE))


def count_retryable(session: Session, *, filters: Filters) -> int:
    return session.scalar(select(func.count()).select_from(_retryable(filters).subquery())) or 0


def retry_matching(session: Session, *, filters: Filters) -> Iterator[tuple[int, list[int]]]:
    """Reset the failed or dead deliveries matching ``filters``, except those whose body retention
    has dropped: ``RETRY_BATCH`` at a time in id order, each batch committed, so a long retry never
    holds the write lock (or its rows' locks) to the end, and what it queued stays queued if it
    stops (run it again for the rest). Yields, per batch, how many matched and the ids reset."""
    for batch in committed_batches(session, _retryable(filters), Delivery.id, RETRY_BATCH):
        yield len(batch), sorted(_reset(session, Delivery.id.in_(batch)))


# -- retention (run with the transaction log's: hub.transactions.retention) ------------------------------


def cull_bodies(session: Session, *, older_than: timedelta, now: datetime | None = None) -> int:
    """Drop the bodies of settled deliveries queued before ``now - older_than``; returns how many.

    The cutoff rule is the transaction log's: computed from the age, never from the last run.
    Pending and in-flight deliveries keep their bodies whatever their age: they are still owed.
    ``body != CULLED`` is the predicate of ``ix_deliveries_unculled``, through which a run reads
    only the bodies it has yet to cull.
    """
    cutoff = (now or utcnow()) - older_than
    where = [
        Delivery.status.in_(SETTLED),
        Delivery.created_at < cutoff,
        Delivery.body.is_not(None),
        Delivery.body != CULLED,
    ]
    return in_batches(
        session,
        Delivery.id,
        where,
        lambda chosen: (
            update(Delivery)
            .where(chosen, *where)
            .values(body=CULLED)
            .execution_options(synchronize_session=False)
        ),
    )


def purge(session: Session, *, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete settled deliveries queued before ``now - older_than``; pending and in-flight ones stay."""
    cutoff = (now or utcnow()) - older_than
    where = [Delivery.status.in_(SETTLED), Delivery.created_at < cutoff]
    return in_batches(
        session,
        Delivery.id,
        where,
        lambda chosen: delete(Delivery).where(chosen, *where).execution_options(synchronize_session=False),
    )


def gauges(db: Database) -> GaugeReader:
    """Outbox depth by status and the age of the oldest unsent delivery, read at scrape time."""

    def read() -> Iterable[Metric]:
        with db.session() as session:
            counts = dict(
                session.execute(
                    select(Delivery.status, func.count())
                    .where(Delivery.status.in_(GAUGED))
                    .group_by(Delivery.status)
                ).all()
            )
            oldest = session.scalar(select(func.min(Delivery.created_at)).where(Delivery.status.in_(UNSENT)))
        depth = GaugeMetricFamily("hub_outbox_depth", "Outbox deliveries by status", labels=["status"])
        for status in GAUGED:
            depth.add_metric([status], counts.get(status, 0))
        yield depth
        age = (utcnow() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "hub_outbox_oldest_age_seconds", "Age of the oldest pending or in-flight delivery", value=age
        )

    return read
