"""A worker against the real upstream process: retries, dead letters, credentials, leases."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import update

from hub.db.base import utcnow
from hub.db.session import Database
from hub.outbox import service
from hub.outbox.models import Delivery, DeliveryStatus
from hub.outbox.worker import EmbeddedWorker, Worker
from hub.runtime import Runtime
from hub.settings import Settings
from tests.conftest import PG_URL, free_port
from tests.outbox.support import enqueue, load, serving, spec, work_until


def keys_seen(log: list[dict[str, Any]]) -> list[str]:
    return [r["headers"].get("idempotency-key") for r in log]


def test_transient_failures_are_retried_until_delivered_with_one_idempotency_key(
    db: Database, worker: Worker, upstream: str, upstream_log: Callable[[], list[dict[str, Any]]]
) -> None:
    (delivery_id,) = enqueue(db, spec(f"{upstream}/flaky/2/retry-me"))

    work_until(worker, db, [delivery_id])

    row = load(db, delivery_id)
    assert row.status == DeliveryStatus.DELIVERED
    assert (row.attempts, row.last_status, row.last_error) == (3, 200, None)
    assert row.delivered_at is not None and row.lease_until is None
    assert row.claimed_by == worker.id
    assert '"call": 3' in (row.last_response or "")
    assert keys_seen(upstream_log()) == [row.idempotency_key] * 3


@pytest.mark.parametrize("code", [400, 404, 409, 422], ids=str)
def test_a_permanent_rejection_is_recorded_and_not_retried(
    db: Database, worker: Worker, upstream: str, upstream_log: Callable[[], list[dict[str, Any]]], code: int
) -> None:
    (delivery_id,) = enqueue(db, spec(f"{upstream}/status/{code}"))

    work_until(worker, db, [delivery_id])
    time.sleep(0.3)  # longer than the test back-off: a retry would be due by now
    assert worker.run_once() == 0

    row = load(db, delivery_id)
    assert (row.status, row.attempts, row.last_status) == (DeliveryStatus.FAILED, 1, code)
    assert row.last_error == f"upstream answered HTTP {code}"
    assert f'"status": {code}' in (row.last_response or "")
    assert len(upstream_log()) == 1


@pytest.mark.parametrize("code", [500, 503, 408, 429], ids=str)
def test_transient_failures_end_dead_after_max_attempts(
    db: Database, worker: Worker, upstream: str, upstream_log: Callable[[], list[dict[str, Any]]], code: int
) -> None:
    (delivery_id,) = enqueue(db, spec(f"{upstream}/status/{code}", max_attempts=3))

    work_until(worker, db, [delivery_id])

    row = load(db, delivery_id)
    assert (row.status, row.attempts, row.last_status) == (DeliveryStatus.DEAD, 3, code)
    assert len(upstream_log()) == 3


def test_connection_refused_is_retried(db: Database, worker: Worker) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    (delivery_id,) = enqueue(db, spec(f"{closed}/nobody-home", max_attempts=2))

    assert worker.run_once() == 1
    row = load(db, delivery_id)
    assert (row.status, row.attempts, row.last_status) == (DeliveryStatus.PENDING, 1, None)
    assert row.last_error == "upstream unreachable: ConnectError"
    assert row.next_attempt_at > row.updated_at - timedelta(milliseconds=1)

    work_until(worker, db, [delivery_id])
    assert (load(db, delivery_id).status, load(db, delivery_id).attempts) == (DeliveryStatus.DEAD, 2)


def test_a_timeout_is_retried(db: Database, worker: Worker, upstream: str) -> None:
    (delivery_id,) = enqueue(db, spec(f"{upstream}/sleep/2", timeout_s=0.2))

    worker.run_once()

    row = load(db, delivery_id)
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 1)
    assert row.last_error == "upstream did not answer within 0.2s"


@pytest.fixture(scope="module")
def retry_after_upstream() -> Iterator[str]:
    """Answers ``/<status>/<Retry-After value>`` with both (the shared upstream sends no Retry-After)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, value = self.path.strip("/").split("/", 1)
            self.send_response(int(status))
            self.send_header("Retry-After", unquote(value))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    with serving(Handler) as url:
        yield url


@pytest.mark.parametrize(
    ("path", "expected_s"),
    [
        ("429/3", 3.0),
        ("503/2", 2.0),
        ("429/3600", 8.0),  # capped by outbox_backoff_max_s
        ("500/3", None),  # Retry-After only counts on 429 and 503: ordinary back-off
        ("429/soon", None),  # unparseable: ordinary back-off
    ],
    ids=["429", "503", "capped", "ignored-on-500", "unparseable"],
)
def test_retry_after_is_honoured(
    db: Database,
    make_worker: Callable[..., Worker],
    retry_after_upstream: str,
    path: str,
    expected_s: float | None,
) -> None:
    worker = make_worker(outbox_backoff_base_s=0.5, outbox_backoff_max_s=8.0)
    (delivery_id,) = enqueue(db, spec(f"{retry_after_upstream}/{path}"))

    worker.run_once()

    row = load(db, delivery_id)
    wait_s = (row.next_attempt_at - row.updated_at).total_seconds()
    assert row.status == DeliveryStatus.PENDING
    if expected_s is None:
        assert 0 <= wait_s <= 0.5, "first retry waits at most the back-off base"
    else:
        assert wait_s == pytest.approx(expected_s, abs=0.01)


def test_credentials_are_added_at_send_time_and_never_stored(
    db: Database,
    worker: Worker,
    upstream: str,
    upstream_log: Callable[[], list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DHIS2_PASSWORD", "district-secret")
    auth = {"type": "basic", "username": "admin", "secret_env": "DHIS2_PASSWORD"}
    (delivery_id,) = enqueue(db, spec(f"{upstream}/api/dataValueSets", auth=auth))

    work_until(worker, db, [delivery_id])

    (seen,) = upstream_log()
    expected = "Basic " + base64.b64encode(b"admin:district-secret").decode()
    assert seen["headers"]["authorization"] == expected
    row = load(db, delivery_id)
    assert row.status == DeliveryStatus.DELIVERED
    assert "district-secret" not in repr((row.headers, row.auth, row.body))


def test_missing_credentials_are_a_transient_error_naming_the_variable(
    db: Database, worker: Worker, upstream: str, upstream_log: Callable[[], list[dict[str, Any]]]
) -> None:
    auth = {"type": "bearer", "secret_env": "UPSTREAM_TEST_UNSET_TOKEN"}
    (delivery_id,) = enqueue(db, spec(f"{upstream}/api", auth=auth))

    worker.run_once()

    row = load(db, delivery_id)
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 1)
    assert "UPSTREAM_TEST_UNSET_TOKEN is not set" in (row.last_error or "")
    assert upstream_log() == []


def _expire_lease(db: Database, delivery_id: int, *, owner: str | None = None) -> None:
    values: dict[str, Any] = {"lease_until": utcnow() - timedelta(seconds=1)}
    if owner is not None:
        values |= {"status": DeliveryStatus.IN_FLIGHT, "claimed_by": owner}
    with db.session() as session:
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


def test_an_expired_lease_is_reclaimed_and_a_live_one_is_not(
    db: Database, worker: Worker, upstream: str, upstream_log: Callable[[], list[dict[str, Any]]]
) -> None:
    crashed, busy = enqueue(db, spec(f"{upstream}/crashed"), spec(f"{upstream}/busy"))
    _expire_lease(db, crashed, owner="gone:1:dead")
    with db.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == busy)
            .values(
                status=DeliveryStatus.IN_FLIGHT,
                claimed_by="alive:2:busy",
                lease_until=utcnow() + timedelta(minutes=1),
            )
        )

    assert worker.run_once() == 1

    assert load(db, crashed).status == DeliveryStatus.DELIVERED
    assert (load(db, busy).status, load(db, busy).claimed_by) == (DeliveryStatus.IN_FLIGHT, "alive:2:busy")
    assert [r["path"] for r in upstream_log()] == ["/crashed"]


def test_a_worker_that_lost_its_lease_cannot_overwrite_the_new_owners_result(
    db: Database, upstream: str
) -> None:
    (delivery_id,) = enqueue(db, spec(f"{upstream}/x"))
    backoff = service.Backoff(0.05, 0.2)
    answer = service.Attempt(utcnow(), 5.0, status=200, body=b"ok")
    with db.session() as session:
        (slow,) = service.claim(session, worker_id="slow", limit=5, lease_s=30)
    _expire_lease(db, delivery_id)
    with db.session() as session:
        (fast,) = service.claim(session, worker_id="fast", limit=5, lease_s=30)

    with db.session() as session:
        assert (
            service.settle(session, delivery=slow, worker_id="slow", attempt=answer, backoff=backoff) is None
        )
    assert load(db, delivery_id).claimed_by == "fast"
    with db.session() as session:
        settled = service.settle(session, delivery=fast, worker_id="fast", attempt=answer, backoff=backoff)
    assert settled == DeliveryStatus.DELIVERED
    assert load(db, delivery_id).attempts == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.skipif(not PG_URL, reason="HUB_TEST_POSTGRES_URL is not set (scripts/test and CI set it)")
def test_a_worker_whose_clock_runs_behind_sets_leases_the_others_respect(
    db: Database, upstream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers on several machines share PostgreSQL: leases are set and judged on its clock. A
    worker whose own clock ran two minutes behind set a lease that every other worker found long
    out, and sent the delivery again."""
    (delivery_id,) = enqueue(db, spec(f"{upstream}/x"))
    with db.session() as session:  # due for a while, whichever clock reads it
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(next_attempt_at=utcnow() - timedelta(hours=1))
        )
    with monkeypatch.context() as behind:
        behind.setattr(service, "utcnow", lambda: utcnow() - timedelta(minutes=2))
        with db.session() as session:
            (claimed,) = service.claim(session, worker_id="behind", limit=5, lease_s=30)
    with db.session() as session:
        again = service.claim(session, worker_id="on-time", limit=5, lease_s=30)

    assert claimed.id == delivery_id
    assert again == []
    assert load(db, delivery_id).claimed_by == "behind"


def test_a_long_send_keeps_its_lease_so_no_other_worker_sends_it_again(
    db: Database,
    make_worker: Callable[..., Worker],
    upstream: str,
    upstream_log: Callable[[], list[dict[str, Any]]],
) -> None:
    (delivery_id,) = enqueue(db, spec(f"{upstream}/sleep/1.5"))
    first, second = make_worker(outbox_lease_s=0.6), make_worker(outbox_lease_s=0.6)
    sending = threading.Thread(target=first.run_once)
    sending.start()
    deadline = time.monotonic() + 1.4
    while time.monotonic() < deadline:  # the lease would have expired twice without renewal
        second.run_once()
        time.sleep(0.05)
    sending.join()

    assert load(db, delivery_id).status == DeliveryStatus.DELIVERED
    assert len(upstream_log()) == 1


def test_stopping_hands_back_deliveries_not_yet_started(
    db: Database, settings: Settings, upstream: str, upstream_log: Callable[[], list[dict[str, Any]]]
) -> None:
    worker = Worker(db, settings, concurrency=1)
    ids = enqueue(db, *(spec(f"{upstream}/sleep/0.5") for _ in range(3)))
    batch = threading.Thread(target=worker.run_once)
    batch.start()
    time.sleep(0.2)
    worker.stop()
    batch.join(5)
    worker.close()

    statuses = [(load(db, i).status, load(db, i).attempts, load(db, i).claimed_by) for i in ids]
    assert statuses == [(DeliveryStatus.DELIVERED, 1, worker.id)] + [(DeliveryStatus.PENDING, 0, None)] * 2
    assert len(upstream_log()) == 1


def test_the_embedded_worker_delivers_and_stops_promptly(
    db: Database, settings: Settings, upstream: str
) -> None:
    runtime = Runtime.create(settings.model_copy(update={"outbox_poll_s": 30.0}), db)
    embedded = EmbeddedWorker(runtime)
    (delivery_id,) = enqueue(db, spec(f"{upstream}/embedded"))
    embedded.start()
    deadline = time.monotonic() + 10
    while load(db, delivery_id).status != DeliveryStatus.DELIVERED and time.monotonic() < deadline:
        time.sleep(0.05)

    t0 = time.monotonic()
    embedded.stop()

    assert load(db, delivery_id).status == DeliveryStatus.DELIVERED
    assert time.monotonic() - t0 < 1.0, "stop() must wake the worker from its 30 s poll sleep"
    assert not embedded.thread.is_alive()
