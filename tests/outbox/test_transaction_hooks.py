"""Requests through real channels whose deliveries settle their transactions when the worker sends them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from hub.db.session import Database
from hub.outbox.models import Delivery, DeliveryStatus
from hub.outbox.worker import Worker
from hub.transactions.models import Status, Transaction
from tests.conftest import PARTNER, PASSWORD, channel, free_port
from tests.outbox.support import enqueue, spec, transaction, work_until

pytestmark = pytest.mark.usefixtures("partner_password")


def route(name: str, url: str, path: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "url": url, "path": path, **extra}


def post_through(
    make_hub: Callable[..., Any], upstream: str, *routes: dict[str, Any]
) -> tuple[Any, int, int]:
    """Start a hub whose one channel has ``routes``; POST once; returns (hub, HTTP status, transaction id)."""
    hub = make_hub(
        {"clients": [PARTNER], "channels": [channel("data", r"/data", upstream, routes=list(routes))]}
    )
    with hub.client("partner-1", PASSWORD) as c:
        r = c.post("/data", json={"dataValues": [{"value": "3"}]})
    return r.status_code, int(r.headers["x-hub-transaction-id"])


def settle_all(db: Database, worker: Worker, tx_id: int) -> Transaction:
    with db.session() as session:
        ids = list(session.scalars(select(Delivery.id).where(Delivery.transaction_id == tx_id)))
    assert ids, "the gateway queued no delivery"
    work_until(worker, db, ids)
    with db.session() as session:
        return session.get_one(Transaction, tx_id)


def test_queued_primary_goes_from_pending_async_to_successful(
    make_hub: Callable[..., Any],
    db: Database,
    worker: Worker,
    upstream: str,
    upstream_log: Callable[[], list[dict[str, Any]]],
) -> None:
    status, tx_id = post_through(
        make_hub, upstream, route("dhis2", upstream, "/flaky/1/queued-primary", primary=True, queued=True)
    )
    assert status == 202
    with db.session() as session:
        assert session.get_one(Transaction, tx_id).status == Status.PENDING_ASYNC

    tx = settle_all(db, worker, tx_id)

    assert (tx.status, tx.response_status) == (Status.SUCCESSFUL, 200)
    assert tx.response_body == '{"call": 2}'
    (orchestration,) = tx.orchestrations
    assert orchestration["name"] == "dhis2" and orchestration["attempts"] == 2
    assert orchestration["request"]["method"] == "POST"
    assert orchestration["request"]["url"] == f"{upstream}/flaky/1/queued-primary"
    assert orchestration["response"]["status"] == 200
    assert {"timestamp", "body"} <= set(orchestration["response"])
    assert orchestration["duration_ms"] >= 0
    sent = upstream_log()
    assert [r["headers"]["x-openhim-transactionid"] for r in sent] == [str(tx_id)] * 2
    assert "authorization" not in sent[0]["headers"]


@pytest.mark.parametrize("store_response", [True, False])
def test_a_queued_answer_is_kept_under_the_channels_body_policy(
    make_hub: Callable[..., Any], db: Database, worker: Worker, upstream: str, store_response: bool
) -> None:
    """The upstream's answer to a queued route is logged as the gateway logs answers: redacted
    fields masked, nothing at all when the channel stores no responses."""
    policy = {"redact_fields": ["nationalId"], "store_response": store_response}
    routes = [route("registry", upstream, "/mirror", primary=True, queued=True)]
    channels = [channel("p", r"/p", upstream, routes=routes, body_policy=policy)]
    doc = {"clients": [PARTNER], "channels": channels}
    with make_hub(doc).client("partner-1", PASSWORD) as c:
        r = c.post("/p", json={"nationalId": "1990123456789", "visits": 2})
    tx = settle_all(db, worker, int(r.headers["x-hub-transaction-id"]))
    with db.session() as session:
        kept = session.scalars(select(Delivery.last_response)).one()
    assert tx.status == Status.SUCCESSFUL
    answers = [kept, tx.response_body, tx.orchestrations[0]["response"]["body"]]
    assert "1990123456789" not in repr(answers), "a patient identifier reached the log unredacted"
    if store_response:
        assert all('"nationalId":"***"' in a and '"visits":2' in a for a in answers)
    else:
        assert answers == [None, None, None]


@pytest.mark.parametrize(
    ("path", "max_attempts", "expected_status", "expected_http"),
    [("/status/409", 3, Status.COMPLETED, 409), ("/status/503", 2, Status.FAILED, 503)],
    ids=["rejected-completed", "dead-failed"],
)
def test_queued_primary_that_does_not_succeed(
    make_hub: Callable[..., Any],
    db: Database,
    worker: Worker,
    upstream: str,
    path: str,
    max_attempts: int,
    expected_status: Status,
    expected_http: int,
) -> None:
    primary = route("dhis2", upstream, path, primary=True, queued=True, max_attempts=max_attempts)
    _, tx_id = post_through(make_hub, upstream, primary)

    tx = settle_all(db, worker, tx_id)

    assert (tx.status, tx.response_status) == (expected_status, expected_http)
    assert tx.orchestrations[0]["response"]["status"] == expected_http


def test_a_secondary_that_refuses_makes_the_transaction_completed(
    make_hub: Callable[..., Any], db: Database, worker: Worker, upstream: str
) -> None:
    """A 4xx is not a failure to OpenHIM (only a 5xx is): the route is not a success, so Completed."""
    status, tx_id = post_through(
        make_hub,
        upstream,
        route("primary", upstream, "/status/200", primary=True),
        route("archive", upstream, "/status/400"),
        route("mirror", upstream, "/mirror"),
    )
    assert status == 200

    tx = settle_all(db, worker, tx_id)

    assert tx.status == Status.COMPLETED
    assert tx.response_status == 200, "a secondary's outcome never replaces the client's response"
    outcomes = {o["name"]: o["response"]["status"] for o in tx.orchestrations}
    assert outcomes == {"primary": 200, "archive": 400, "mirror": 200}


def test_secondary_success_leaves_the_status_alone(
    make_hub: Callable[..., Any], db: Database, worker: Worker, upstream: str
) -> None:
    _, tx_id = post_through(
        make_hub,
        upstream,
        route("primary", upstream, "/status/201", primary=True),
        route("mirror", upstream, "/m"),
    )

    tx = settle_all(db, worker, tx_id)

    assert tx.status == Status.SUCCESSFUL
    assert [o["name"] for o in tx.orchestrations] == ["primary", "mirror"]


def test_a_secondary_that_gave_up_before_the_queued_primary_is_not_forgotten(
    db: Database, worker: Worker, upstream: str
) -> None:
    tx_id = transaction(db, Status.PENDING_ASYNC)
    (secondary,) = enqueue(db, spec(f"{upstream}/status/500", max_attempts=1), transaction_id=tx_id)
    work_until(worker, db, [secondary])
    with db.session() as session:
        assert session.get_one(Transaction, tx_id).status == Status.PENDING_ASYNC

    (primary,) = enqueue(db, spec(f"{upstream}/ok", primary=True, route_name="dhis2"), transaction_id=tx_id)
    work_until(worker, db, [primary])

    with db.session() as session:
        tx = session.get_one(Transaction, tx_id)
    assert tx.status == Status.COMPLETED_WITH_ERRORS
    assert [o["name"] for o in tx.orchestrations] == ["target", "dhis2"]
    assert tx.orchestrations[0]["attempts"] == 1


def test_a_dead_primary_without_any_answer_fails_its_transaction(db: Database, worker: Worker) -> None:
    tx_id = transaction(db, Status.PENDING_ASYNC)
    (delivery_id,) = enqueue(
        db, spec(f"http://127.0.0.1:{free_port()}/closed", primary=True, max_attempts=1), transaction_id=tx_id
    )

    work_until(worker, db, [delivery_id])

    with db.session() as session:
        tx = session.get_one(Transaction, tx_id)
        delivery = session.get_one(Delivery, delivery_id)
    assert delivery.status == DeliveryStatus.DEAD
    assert tx.status == Status.FAILED
    assert tx.response_status == 202, "the client's 202 stays: no upstream answer replaced it"
    assert tx.orchestrations[0]["error"]["message"].startswith("upstream unreachable")
    assert "response" not in tx.orchestrations[0]


def test_the_embedded_worker_in_the_served_hub_settles_a_queued_primary(
    make_hub: Callable[..., Any], db: Database, upstream: str
) -> None:
    hub = make_hub(
        {
            "clients": [PARTNER],
            "channels": [
                channel(
                    "data",
                    r"/data",
                    upstream,
                    routes=[route("dhis2", upstream, "/ok", primary=True, queued=True)],
                )
            ],
        },
        embedded_worker=True,
    )
    with hub.client("partner-1", PASSWORD) as c:
        r = c.post("/data", json={"dataValues": []})
    assert r.status_code == 202
    tx_id = int(r.headers["x-hub-transaction-id"])

    deadline = time.monotonic() + 10
    while (status := _status(db, tx_id)) == Status.PENDING_ASYNC and time.monotonic() < deadline:
        time.sleep(0.05)

    assert status == Status.SUCCESSFUL
    t0 = time.monotonic()
    hub.stop()
    assert time.monotonic() - t0 < 5, "shutting the hub down stops its worker promptly"


def _status(db: Database, tx_id: int) -> str:
    with db.session() as session:
        return session.get_one(Transaction, tx_id).status
