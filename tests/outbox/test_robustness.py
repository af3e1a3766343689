"""Whatever goes wrong while sending or recording, a delivery is never stuck in flight: each failure is
a counted attempt with its error, so back-off and the dead letter end it; bad timeouts are refused."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from hub.db.base import utcnow
from hub.db.session import Database
from hub.outbox import service
from hub.outbox.models import Delivery, DeliveryStatus
from hub.outbox.worker import Worker
from hub.transactions import service as transactions
from hub.transactions.models import Status, Transaction
from tests.conftest import channel
from tests.outbox.support import enqueue, load, spec, transaction, work_until


@pytest.mark.parametrize(
    ("url", "timeout_s", "error"),
    [
        ("{upstream}/never", -5.0, "could not send: ValueError: Timeout value out of range"),
        ("http://[::1/dataValueSets", 5.0, "could not send: InvalidURL: Invalid port: ':1'"),
    ],
    ids=["negative-timeout", "invalid-url"],
)
def test_an_unexpected_error_while_sending_is_a_failed_attempt_that_ends_dead(
    db: Database,
    worker: Worker,
    upstream: str,
    upstream_log: Callable[[], list[dict[str, Any]]],
    url: str,
    timeout_s: float,
    error: str,
) -> None:
    """As stored before routes' timeouts had bounds, or a URL httpx refuses."""
    tx_id = transaction(db, Status.PENDING_ASYNC)
    queued = spec(url.format(upstream=upstream), timeout_s=timeout_s, primary=True, max_attempts=3)
    (delivery_id,) = enqueue(db, queued, transaction_id=tx_id)

    assert worker.run_once() == 1
    row = load(db, delivery_id)
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.PENDING, 1, error)
    assert (row.lease_until, row.last_status) == (None, None)
    assert row.next_attempt_at > row.updated_at - timedelta(milliseconds=1), "retried after a back-off"

    work_until(worker, db, [delivery_id])

    row = load(db, delivery_id)
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.DEAD, 3, error)
    with db.session() as session:
        tx = session.get_one(Transaction, tx_id)
    assert tx.status == Status.FAILED, "the dead letter settles the queued primary's transaction"
    assert tx.orchestrations[0]["error"]["message"] == error
    assert upstream_log() == []


def test_a_credential_httpx_cannot_send_fails_the_attempt_without_recording_it(
    db: Database, worker: Worker, upstream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSTREAM_TEST_TOKEN", "s\u00e9cret-token")  # not ASCII: no HTTP header can carry it
    auth = {"type": "bearer", "secret_env": "UPSTREAM_TEST_TOKEN"}
    (delivery_id,) = enqueue(db, spec(f"{upstream}/api", auth=auth, max_attempts=2))

    work_until(worker, db, [delivery_id])

    row = load(db, delivery_id)
    assert (row.status, row.attempts) == (DeliveryStatus.DEAD, 2)
    assert (row.last_error or "").startswith("could not send: UnicodeEncodeError: 'ascii' codec")
    assert "cret-token" not in repr(row.last_error)


def test_an_exceptions_text_is_kept_with_every_credential_sent_masked(
    db: Database, make_worker: Callable[..., Worker], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSTREAM_TEST_TOKEN", "tok-3f9a2c")

    def refuse(request: httpx.Request) -> httpx.Response:
        sent = request.headers
        raise ValueError(f"refused {sent['authorization']}, token tok-3f9a2c, api key {sent['x-api-key']}")

    worker = make_worker()
    worker.http.close()
    worker.http = httpx.Client(transport=httpx.MockTransport(refuse))
    auth = {"type": "bearer", "secret_env": "UPSTREAM_TEST_TOKEN"}
    headers = {"content-type": "application/json", "X-Api-Key": "route-key-77"}
    (delivery_id,) = enqueue(db, spec("http://registry.test/fhir", auth=auth, headers=headers))

    assert worker.run_once() == 1

    row = load(db, delivery_id)
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 1)
    assert row.last_error == "could not send: ValueError: refused ***, token ***, api key ***"


def _raise(exc: Exception) -> Callable[..., Any]:
    def raising(*_args: Any, **_kwargs: Any) -> Any:
        raise exc

    return raising


def test_an_outcome_that_cannot_be_recorded_is_a_failed_attempt_that_ends_dead(
    db: Database,
    worker: Worker,
    upstream: str,
    upstream_log: Callable[[], list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tx_id = transaction(db, Status.PENDING_ASYNC)
    (delivery_id,) = enqueue(db, spec(f"{upstream}/ok", primary=True, max_attempts=2), transaction_id=tx_id)
    fault = RuntimeError("cannot write nationalId=SECRET-ID")
    monkeypatch.setattr(transactions, "append_orchestration", _raise(fault))

    with caplog.at_level(logging.ERROR, logger="hub.outbox"):
        work_until(worker, db, [delivery_id])

    row = load(db, delivery_id)
    assert (row.status, row.attempts) == (DeliveryStatus.DEAD, 2), (
        "never 'delivered': the outcome is unrecorded"
    )
    assert row.last_error == "the hub could not record the outcome (HTTP 200): RuntimeError"
    assert [r["headers"]["idempotency-key"] for r in upstream_log()] == [row.idempotency_key] * 2
    with db.session() as session:
        assert session.get_one(Transaction, tx_id).status == Status.PENDING_ASYNC
    faults = [r for r in caplog.records if r.getMessage().startswith("could not record a delivery's outcome")]
    assert len(faults) == 2 and all(r.__dict__["error"] == "RuntimeError" for r in faults)
    assert "SECRET-ID" not in repr([vars(r) for r in caplog.records]), "an exception's text reached the log"


def test_when_nothing_can_be_recorded_the_delivery_waits_for_its_lease_and_is_sent_again(
    db: Database,
    worker: Worker,
    upstream: str,
    upstream_log: Callable[[], list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (delivery_id,) = enqueue(db, spec(f"{upstream}/ok"))
    with monkeypatch.context() as database_down:
        database_down.setattr(service, "settle", _raise(ConnectionError("database unreachable")))
        assert worker.run_once() == 1

    row = load(db, delivery_id)
    assert (row.status, row.attempts, row.claimed_by) == (DeliveryStatus.IN_FLIGHT, 0, worker.id)
    assert worker.run_once() == 0, "its lease still holds"
    with db.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
    work_until(worker, db, [delivery_id])

    row = load(db, delivery_id)
    assert (row.status, row.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert [r["headers"]["idempotency-key"] for r in upstream_log()] == [row.idempotency_key] * 2


@pytest.mark.parametrize(
    ("where", "timeout_s", "problem"),
    [
        ("route", -5, "routes.0.timeout_s: Input should be greater than 0"),
        ("route", 0, "routes.0.timeout_s: Input should be greater than 0"),
        ("channel", -0.5, "timeout_s: Input should be greater than 0"),
        ("channel", 3601, "timeout_s: Input should be less than or equal to 3600"),
    ],
    ids=["route-negative", "route-zero", "channel-negative", "channel-over-an-hour"],
)
def test_a_timeout_that_is_not_positive_or_over_an_hour_is_refused(
    make_hub: Callable[..., Any], upstream: str, where: str, timeout_s: float, problem: str
) -> None:
    route = {"name": "dhis2", "url": upstream, "primary": True, "queued": True}
    doc = channel("bad", r"/bad", upstream, routes=[route])
    (route if where == "route" else doc)["timeout_s"] = timeout_s

    with make_hub().admin() as admin:
        r = admin.post("/admin/channels", json=doc)
        accepted = admin.post(
            "/admin/channels", json={**doc, "timeout_s": 3600, "routes": [{**route, "timeout_s": 0.1}]}
        )

    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert problem in r.json()["detail"]
    assert accepted.status_code == 201, accepted.text
