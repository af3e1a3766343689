"""A transaction's status from all its routes, as OpenHIM core's setFinalStatus derives it, recomputed
whenever one of its queued routes settles (an admin's retry too)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import select

from hub.db.migrate import alembic_config
from hub.db.session import Database
from hub.outbox.models import Delivery, DeliveryStatus
from hub.outbox.worker import Worker
from hub.transactions.models import Status, Transaction
from hub.transactions.service import final_status, route_status
from tests.conftest import PARTNER, PASSWORD, channel
from tests.outbox.support import QuietHandler, serving, work_until

pytestmark = pytest.mark.usefixtures("partner_password")

S, C, CWE, F = Status.SUCCESSFUL, Status.COMPLETED, Status.COMPLETED_WITH_ERRORS, Status.FAILED


@pytest.mark.parametrize(
    ("primary", "routes", "expected"),
    [
        (200, [], S),
        (201, [200, 204], S),
        (200, [404], C),
        (200, [302], C),
        (200, [500], CWE),
        (200, [404, 503], CWE),
        (404, [], C),
        (404, [200], C),
        (404, [500], CWE),
        (302, [], C),
        (500, [200], F),
        (502, [500], F),
    ],
    ids=[
        "ok",
        "ok-routes-ok",
        "route-refused",
        "route-redirected",
        "route-failed",
        "route-failed-beats-refused",
        "primary-refused",
        "primary-refused-routes-ok",
        "primary-refused-route-failed",
        "primary-redirected",
        "primary-failed",
        "primary-failed-route-failed",
    ],
)
def test_final_status_follows_openhim(primary: int, routes: list[int], expected: Status) -> None:
    assert final_status(primary, routes) == expected


@pytest.mark.parametrize(
    ("status", "last_status", "expected"),
    [
        (DeliveryStatus.DELIVERED, 200, 200),
        (DeliveryStatus.FAILED, 409, 409),
        (DeliveryStatus.FAILED, 200, 500),
        (DeliveryStatus.DEAD, 503, 503),
        (DeliveryStatus.DEAD, 429, 429),
        (DeliveryStatus.DEAD, None, 500),
    ],
    ids=["delivered", "refused", "mediator-failed", "dead-5xx", "dead-429", "unreachable"],
)
def test_a_settled_delivery_counts_as_openhim_counts_its_route(
    status: DeliveryStatus, last_status: int | None, expected: int
) -> None:
    assert route_status(status, last_status) == expected


@pytest.fixture(scope="module")
def mediator() -> Iterator[str]:
    """``POST /<urn>/<status>``: a mediator reply reporting that status (none for ``-``) with that
    urn (none for ``-``), its response a 200."""

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            urn, status = self.path.strip("/").replace("%20", " ").split("/")
            reply: dict[str, Any] = {"response": {"status": 200}}
            if urn != "-":
                reply["x-mediator-urn"] = urn
            if status != "-":
                reply["status"] = status
            self.reply(json.dumps(reply).encode(), "application/json+openhim")

    with serving(Handler) as url:
        yield url


def settle(db: Database, worker: Worker, tx_id: int) -> tuple[str, dict[str, int]]:
    """Deliver what ``tx_id`` owes; its status and its deliveries' ids by route."""
    with db.session() as session:
        rows = session.execute(
            select(Delivery.route_name, Delivery.id).where(Delivery.transaction_id == tx_id)
        )
        ids = {route: delivery_id for route, delivery_id in rows}
    work_until(worker, db, list(ids.values()))
    with db.session() as session:
        return session.get_one(Transaction, tx_id).status, ids


@pytest.mark.parametrize(
    ("urn", "reported", "expected"),
    [
        ("urn:mediator:status", "Successful", S),
        ("urn:mediator:status", "Completed", C),
        ("-", "Successful", S),  # a reply without its urn (as the Java mediator engine may send)
        ("urn:mediator:status", "-", CWE),  # no status given: the routes decide, as without a mediator
        ("urn:mediator:status", "Processing", CWE),  # not final: counts as none given
    ],
    ids=["reported", "reported-completed", "reported-without-urn", "not-reported", "not-final"],
)
def test_a_status_the_primary_mediator_reported_stands_when_a_secondary_fails(
    make_hub: Callable[..., Any],
    db: Database,
    worker: Worker,
    upstream: str,
    mediator: str,
    urn: str,
    reported: str,
    expected: Status,
) -> None:
    routes = [
        {"name": "mediator", "url": mediator, "path": f"/{urn}/{reported}", "primary": True},
        {"name": "archive", "url": upstream, "path": "/status/500", "max_attempts": 1},
    ]
    doc = {"clients": [PARTNER], "channels": [channel("m", r"/m", upstream, routes=routes)]}
    with make_hub(doc).client("partner-1", PASSWORD) as c:
        tx_id = int(c.post("/m", json={}).headers["x-hub-transaction-id"])

    assert settle(db, worker, tx_id)[0] == expected


def test_a_failed_secondary_an_admin_retries_to_success_leaves_the_transaction_successful(
    make_hub: Callable[..., Any], db: Database, worker: Worker, upstream: str
) -> None:
    routes = [
        {"name": "primary", "url": upstream, "path": "/status/200", "primary": True},
        {"name": "archive", "url": upstream, "path": f"/flaky/1/{uuid.uuid4().hex}", "max_attempts": 1},
        {"name": "audit", "url": upstream, "path": "/status/202"},
    ]
    doc = {"clients": [PARTNER], "channels": [channel("r", r"/r", upstream, routes=routes)]}
    hub = make_hub(doc)
    with hub.client("partner-1", PASSWORD) as c:
        tx_id = int(c.post("/r", json={}).headers["x-hub-transaction-id"])
    status, ids = settle(db, worker, tx_id)
    assert status == Status.COMPLETED_WITH_ERRORS, "its archive answered 503 once, at its only attempt"

    with hub.admin() as admin:
        assert admin.post(f"/admin/outbox/{ids['archive']}/retry").status_code == 200

    assert settle(db, worker, tx_id)[0] == Status.SUCCESSFUL


@pytest.mark.parametrize(
    ("reported", "expected"), [("Successful", S), ("-", CWE)], ids=["reported", "not-reported"]
)
def test_a_queued_primary_mediator_s_status_stands_as_the_gateway_s_does(
    make_hub: Callable[..., Any],
    db: Database,
    worker: Worker,
    upstream: str,
    mediator: str,
    reported: str,
    expected: Status,
) -> None:
    routes = [
        {
            "name": "mediator",
            "url": mediator,
            "path": f"/urn:mediator:q/{reported}",
            "primary": True,
            "queued": True,
        },
        {"name": "archive", "url": upstream, "path": "/status/500", "max_attempts": 1},
    ]
    doc = {"clients": [PARTNER], "channels": [channel("q", r"/q", upstream, routes=routes)]}
    with make_hub(doc).client("partner-1", PASSWORD) as c:
        answer = c.post("/q", json={})
    assert answer.status_code == 202
    tx_id = int(answer.headers["x-hub-transaction-id"])

    assert settle(db, worker, tx_id)[0] == expected


def test_rows_from_before_the_status_was_recorded_read_it_from_their_urn(
    db: Database, database_url: str
) -> None:
    """Migration 0015: a transaction closed with a mediator's urn keeps its status when a
    secondary settles after the upgrade, as it did before; one without keeps being refined."""
    config = alembic_config(database_url)
    command.downgrade(config, "0014")
    row = {
        "status": "Successful",
        "method": "POST",
        "path": "/m",
        "query": "",
        "request_headers": "{}",
        "request_body_size": 0,
        "request_stored": False,
        "orchestrations": "[]",
        "properties": "{}",
        "started_at": datetime.now(UTC),
        "bodies_culled": False,
    }
    table = sa.table(
        "transactions", *(sa.column(name) for name in ["id", "request_id", "mediator_urn", *row])
    )
    with db.engine.begin() as conn:
        conn.execute(
            table.insert(),
            [
                {**row, "id": 901, "request_id": "r1", "mediator_urn": "urn:m"},
                {**row, "id": 902, "request_id": "r2", "mediator_urn": None},
            ],
        )
    command.upgrade(config, "heads")
    with db.session() as session:
        reported = dict(
            session.execute(
                select(Transaction.id, Transaction.status_reported).where(Transaction.id > 900)
            ).all()
        )
    assert reported == {901: True, 902: False}
