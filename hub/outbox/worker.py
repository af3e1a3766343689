"""Outbox workers: claim a batch, send it on a small thread pool, settle each result.

No DB transaction is open while a request is on the wire: claiming, renewing leases and
settling each run in their own short session. Several workers (threads in ``hub serve``,
``hub worker`` processes, other machines) can run at once against one database.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime

import httpx
from pydantic import ValidationError

from hub.channels.schemas import RouteAuth
from hub.db.session import Database
from hub.errors import UpstreamError
from hub.gateway.body_policy import ALWAYS_REDACTED, MASK
from hub.gateway.forward import route_credentials
from hub.logs import log_fault
from hub.outbox import service
from hub.outbox.models import Delivery, DeliveryStatus
from hub.runtime import Runtime
from hub.settings import Settings

log = logging.getLogger("hub.outbox")

DEFAULT_CONCURRENCY = 8
# How often a busy batch checks for stop() and renews its leases (at most every lease/3).
TICK_S = 0.5
ERROR_CHARS = 500  # of an unexpected exception's text, in a delivery's last_error


def worker_id() -> str:
    """hostname:pid:random, unique per worker even when a pid is reused."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def unexpected_error(exc: Exception, sent: Mapping[str, str]) -> str:
    """An unexpected failure to send, as a delivery's error: the exception's type and text, cut short,
    with every credential among the headers ``sent`` masked (whole, and its token after the scheme)."""
    text = str(exc)
    for name, value in sent.items():
        if name.lower() in ALWAYS_REDACTED:
            for secret in (value, value.rpartition(" ")[2]):
                if secret:
                    text = text.replace(secret, MASK)
    return f"could not send: {type(exc).__name__}: {text}"[:ERROR_CHARS]


class Leases:
    """Until when this worker holds each delivery of a batch, on its own monotonic clock. A lease
    counts from just before the statement that took or renewed it, so the worker never believes
    it holds a delivery longer than the database says."""

    def __init__(self, ids: Iterable[int], since: float, lease_s: float) -> None:
        self.lease_s = lease_s
        self.since = since  # the first claim, or the last renewal that succeeded
        self.until: dict[int, float] = {}
        self.taken(ids, since)

    def taken(self, ids: Iterable[int], since: float) -> None:
        """A claim that started at ``since`` took ``ids``."""
        self.until.update(dict.fromkeys(ids, since + self.lease_s))

    def renewed(self, ids: Iterable[int], since: float) -> None:
        """A renewal that started at ``since`` extended the leases on ``ids``, those still held."""
        self.since = since
        for delivery_id in ids:
            self.until[delivery_id] = since + self.lease_s

    def due(self) -> bool:
        """Whether to renew: a third of a lease has gone by since the last success."""
        return time.monotonic() - self.since >= self.lease_s / 3

    def held(self, delivery_id: int) -> bool:
        return time.monotonic() < self.until[delivery_id]


def send(http: httpx.Client, delivery: Delivery) -> service.Attempt:
    """One attempt at a delivery; whatever goes wrong is an Attempt with ``error``, never an exception."""
    started = datetime.now(UTC)
    t0 = time.perf_counter()

    def failed(error: str) -> service.Attempt:
        return service.Attempt(started, (time.perf_counter() - t0) * 1000, error=error)

    credentials: dict[str, str] = {}
    try:
        if delivery.auth is not None:
            credentials = route_credentials(RouteAuth.model_validate(delivery.auth))
        # Case-insensitive, so a client's own Idempotency-Key forwarded in the stored headers is replaced.
        headers = httpx.Headers(delivery.headers)
        headers[service.IDEMPOTENCY_HEADER] = delivery.idempotency_key
        headers.update(credentials)
        response = http.request(
            delivery.method, delivery.url, headers=headers, content=delivery.body, timeout=delivery.timeout_s
        )
    except UpstreamError as exc:
        return failed(exc.detail)
    except ValidationError as exc:
        return failed(f"the route's stored auth is invalid: {exc.errors()[0]['msg']}")
    except httpx.TimeoutException:
        return failed(f"upstream did not answer within {delivery.timeout_s:g}s")
    except httpx.HTTPError as exc:
        return failed(f"upstream unreachable: {type(exc).__name__}")
    except Exception as exc:
        # e.g. a stored timeout, URL or header httpx refuses: a failed attempt, which the dead letter ends
        return failed(unexpected_error(exc, {**delivery.headers, **credentials}))
    return service.answered(
        started,
        (time.perf_counter() - t0) * 1000,
        status=response.status_code,
        body=response.content,
        content_type=response.headers.get("content-type"),
        retry_after=response.headers.get("retry-after"),
    )


class Worker:
    """Delivers due outbox rows until stopped; ``run_once`` does a single batch."""

    def __init__(self, db: Database, settings: Settings, *, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.db = db
        self.id = worker_id()
        self.batch = settings.outbox_batch
        self.lease_s = settings.outbox_lease_s
        self.poll_s = settings.outbox_poll_s
        self.backoff = service.Backoff(settings.outbox_backoff_base_s, settings.outbox_backoff_max_s)
        self.stopping = threading.Event()
        self.http = httpx.Client(
            follow_redirects=False,
            limits=httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency),
        )
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="outbox-send")

    def run(self, *, drain: bool = False) -> None:
        """Deliver until ``stop()``; with ``drain``, return once nothing is due."""
        log.info("outbox worker started", extra={"worker_id": self.id, "batch": self.batch})
        while not self.stopping.is_set():
            try:
                claimed = self.run_once()
            except Exception:
                # The DB may be briefly unreachable; the loop must outlive that.
                log.exception("outbox batch failed; retrying after the poll interval")
                claimed = 0
            if not claimed:
                if drain:
                    break
                self.stopping.wait(self.poll_s)
        log.info("outbox worker stopped", extra={"worker_id": self.id})

    def run_once(self) -> int:
        """Claim a batch and send it; returns how many deliveries were claimed.

        While slow sends hold the batch up, each tick claims again for the slots the sends that
        ended have freed, once they are half the batch: one upstream that hangs until its timeout
        does not hold back every other delivery. A claim never takes a delivery this worker is
        still sending or has yet to start (its lease may have run out meanwhile): that would send
        it a second time, under the same key. Returns once every send it started has ended, so
        the next call starts afresh.
        """
        since = time.monotonic()
        with self.db.session() as session:
            batch = service.claim(session, worker_id=self.id, limit=self.batch, lease_s=self.lease_s)
        if not batch:
            return 0
        leases = Leases((d.id for d in batch), since, self.lease_s)
        futures: dict[Future[None], int] = {}
        pending = self._start(batch, leases, futures)
        claimed = len(batch)
        while pending:
            _, pending = wait(pending, timeout=min(TICK_S, self.lease_s / 3))
            if pending and self.stopping.is_set():
                self._release([futures[f] for f in pending if f.cancel()])
                pending = {f for f in pending if not f.cancelled()}
            if pending and leases.due():
                self._renew(leases, [futures[f] for f in pending])
            if pending and not self.stopping.is_set() and len(pending) <= self.batch // 2:
                more = self._claim_more(leases, [futures[f] for f in pending], self.batch - len(pending))
                pending |= self._start(more, leases, futures)
                claimed += len(more)
        return claimed

    def _start(
        self, deliveries: list[Delivery], leases: Leases, futures: dict[Future[None], int]
    ) -> set[Future[None]]:
        started = {self.pool.submit(self._deliver, d, leases): d.id for d in deliveries}
        futures.update(started)
        return set(started)

    def _claim_more(self, leases: Leases, sending: list[int], limit: int) -> list[Delivery]:
        """Up to ``limit`` more due deliveries, none of ``sending``; none when the database fails
        (the batch goes on: the next tick or batch claims them)."""
        since = time.monotonic()
        try:
            with self.db.session() as session:
                more = service.claim(
                    session, worker_id=self.id, limit=limit, lease_s=self.lease_s, excluding=sending
                )
        except Exception as exc:
            log_fault(log, "could not claim more deliveries", exc, worker_id=self.id)
            return []
        leases.taken((d.id for d in more), since)
        return more

    def _renew(self, leases: Leases, ids: list[int]) -> None:
        """Renew the leases on ``ids``. Should that fail, it is tried again at the next tick; meanwhile
        each lease runs out as the database counts it, and a send not yet started then never starts."""
        since = time.monotonic()
        try:
            with self.db.session() as session:
                held = service.renew(session, worker_id=self.id, ids=ids, lease_s=self.lease_s)
        except Exception as exc:
            log_fault(log, "could not renew leases", exc, worker_id=self.id, count=len(ids))
            return
        leases.renewed(held, since)

    def _release(self, ids: list[int]) -> None:
        if ids:
            with self.db.session() as session:
                service.release(session, worker_id=self.id, ids=ids)
            log.info("released unsent deliveries on stop", extra={"worker_id": self.id, "count": len(ids)})

    def _deliver(self, delivery: Delivery, leases: Leases) -> None:
        if not leases.held(delivery.id):
            # Its lease ran out before its turn (renewals failed) or another worker took it over:
            # sent now, it could be on the wire twice at once. Whoever claims it next sends it.
            log.warning("lease gone before the send; not sent", extra={"delivery_id": delivery.id})
            return
        attempt = send(self.http, delivery)
        try:
            attempt, status = self._settle(delivery, attempt)
        except Exception as exc:
            # Nothing could be written (the database is unreachable?): left in_flight, its lease runs
            # out and it is sent again under the same key. Nothing accepted is lost.
            log_fault(log, "could not record a delivery attempt", exc, delivery_id=delivery.id)
            return
        fields = {
            "delivery_id": delivery.id,
            "route": delivery.route_name,
            "attempt": delivery.attempts + 1,
            "http_status": attempt.status,
            "elapsed_ms": round(attempt.elapsed_ms, 1),
            "error": attempt.error,
            "outcome": status,
        }
        if status is None:
            log.warning("lease lost before the result was recorded; another worker owns it", extra=fields)
        elif status is DeliveryStatus.DELIVERED:
            log.debug("delivered", extra=fields)
        elif status is DeliveryStatus.PENDING:
            log.info("delivery attempt failed; will retry", extra=fields)
        else:
            log.warning("delivery gave up", extra=fields)

    def _settle(
        self, delivery: Delivery, attempt: service.Attempt
    ) -> tuple[service.Attempt, DeliveryStatus | None]:
        """Record ``attempt`` with its outcome; returns the attempt recorded and the delivery's status.

        Should recording it fail, the attempt is counted as a failed one on the delivery alone (never
        as delivered: the outcome did not reach its transaction), so a fault that recurs ends in the
        dead letter instead of a resend at every lease expiry. If that fails too, this raises.
        """
        try:
            with self.db.session() as session:
                return attempt, service.settle(
                    session, delivery=delivery, worker_id=self.id, attempt=attempt, backoff=self.backoff
                )
        except Exception as exc:
            log_fault(
                log,
                "could not record a delivery's outcome; counting a failed attempt",
                exc,
                delivery_id=delivery.id,
            )
            failed = service.unrecorded(attempt, exc)
        with self.db.session() as session:
            return failed, service.settle(
                session,
                delivery=delivery,
                worker_id=self.id,
                attempt=failed,
                backoff=self.backoff,
                record_outcome=False,
            )

    def stop(self) -> None:
        """Ask ``run`` to return: idle waits end now, a busy batch hands back what it has not started."""
        self.stopping.set()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.http.close()


class EmbeddedWorker:
    """A :class:`Worker` on a background thread of ``hub serve``."""

    def __init__(self, runtime: Runtime) -> None:
        self.worker = Worker(runtime.db, runtime.settings)
        self.thread = threading.Thread(target=self.worker.run, name="outbox-worker", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop and wait for sends already on the wire, up to ``timeout_s``."""
        self.worker.stop()
        self.thread.join(timeout_s)
        if self.thread.is_alive():
            # Abandoned sends keep their lease; another worker resends them under the same key.
            log.warning("outbox worker still sending at shutdown", extra={"worker_id": self.worker.id})
            return
        self.worker.close()
