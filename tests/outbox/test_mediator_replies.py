"""Queued routes to a mediator: the worker reads its ``application/json+openhim`` reply as the gateway
does, and the transaction gets the mediator's status, response and orchestrations, the latter under
the channel's body policy."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from hub.db.session import Database
from hub.outbox.models import Delivery, DeliveryStatus
from hub.outbox.worker import Worker
from hub.transactions.models import Status, Transaction
from tests.conftest import PARTNER, PASSWORD, channel
from tests.outbox.support import QuietHandler, serving, work_until

pytestmark = pytest.mark.usefixtures("partner_password")

POLICY = {"redact_headers": ["x-secret"], "redact_fields": ["nationalId"]}
SECRETS = ("SECRET-ID", "hide-me", "mediator-token")


@pytest.fixture(scope="module")
def mediator() -> Iterator[str]:
    """``POST /<status>``: a mediator reply with that status, whose orchestration echoes the request;
    ``POST /invalid``: an ``application/json+openhim`` answer that is not a mediator reply."""

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            received = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            status = self.path.strip("/").replace("%20", " ")
            reply: dict[str, Any] = {"status": status}
            if status != "invalid":
                reply = {
                    "x-mediator-urn": "urn:mediator:outbox-test",
                    "status": status,
                    "response": {
                        "status": 201,
                        "headers": {"Content-Type": "application/json"},
                        "body": json.dumps({"nationalId": "SECRET-ID", "saved": True}),
                    },
                    "properties": {"patient": {"nationalId": "SECRET-ID"}, "matched": True},
                    "error": {"message": "partly saved", "nationalId": "SECRET-ID"},
                    "orchestrations": [
                        {
                            "name": "registry lookup",
                            "request": {
                                "method": "POST",
                                "path": "/registry",
                                "headers": {
                                    "Content-Type": "application/json",
                                    "X-Secret": "hide-me",
                                    "Authorization": "Bearer mediator-token",
                                },
                                "body": received,
                            },
                            "response": {
                                "status": 200,
                                "headers": {"content-type": "application/json"},
                                "body": {"nationalId": "SECRET-ID", "found": True},
                            },
                        }
                    ],
                }
            self.reply(json.dumps(reply).encode(), "application/json+openhim; charset=utf-8")

    with serving(Handler) as url:
        yield url


def post_and_settle(
    make_hub: Callable[..., Any], db: Database, worker: Worker, upstream: str, *routes: dict[str, Any]
) -> tuple[Transaction, dict[str, Delivery]]:
    """POST a patient through a channel with ``routes`` (and ``POLICY``), deliver what it queued;
    returns the transaction and its deliveries by route name."""
    doc = {
        "clients": [PARTNER],
        "channels": [channel("med", r"/med", upstream, routes=list(routes), body_policy=POLICY)],
    }
    with make_hub(doc).client("partner-1", PASSWORD) as c:
        tx_id = int(
            c.post("/med", json={"nationalId": "SECRET-ID", "visits": 2}).headers["x-hub-transaction-id"]
        )
    with db.session() as session:
        deliveries = {
            d.route_name: d for d in session.scalars(select(Delivery).where(Delivery.transaction_id == tx_id))
        }
    work_until(worker, db, [d.id for d in deliveries.values()])
    with db.session() as session:
        deliveries = {
            d.route_name: d for d in session.scalars(select(Delivery).where(Delivery.transaction_id == tx_id))
        }
        return session.get_one(Transaction, tx_id), deliveries


def queued_primary(mediator: str, path: str) -> dict[str, Any]:
    return {"name": "mediator", "url": mediator, "path": path, "primary": True, "queued": True}


def test_a_queued_primary_takes_the_mediators_status_response_and_orchestrations(
    make_hub: Callable[..., Any], db: Database, worker: Worker, upstream: str, mediator: str
) -> None:
    tx, deliveries = post_and_settle(make_hub, db, worker, upstream, queued_primary(mediator, "/Completed"))

    assert deliveries["mediator"].status == DeliveryStatus.DELIVERED
    assert tx.status == Status.COMPLETED, "the mediator's word, not the HTTP 200's (Successful)"
    assert tx.response_status == 201, "the response inside the reply"
    assert json.loads(tx.response_body or "") == {"nationalId": "***", "saved": True}
    assert deliveries["mediator"].last_response == tx.response_body
    assert tx.mediator_urn == "urn:mediator:outbox-test"
    assert tx.properties == {"patient": {"nationalId": "***"}, "matched": True}
    assert tx.error == {"message": "partly saved", "nationalId": "***"}, "an object error kept as it is"
    ours, lookup = tx.orchestrations
    assert (ours["name"], ours["response"]["status"]) == ("mediator", 200)
    assert lookup["name"] == "registry lookup"
    assert lookup["request"]["headers"] == {
        "content-type": "application/json",
        "x-secret": "***",
        "authorization": "***",
    }
    assert json.loads(lookup["request"]["body"]) == {"nationalId": "***", "visits": 2}
    assert json.loads(lookup["response"]["body"]) == {"nationalId": "***", "found": True}
    kept = repr(
        (tx.orchestrations, tx.response_body, deliveries["mediator"].last_response, tx.properties, tx.error)
    )
    assert not [s for s in SECRETS if s in kept], "the channel's body policy was not applied"


def test_a_mediator_that_reports_failed_fails_the_delivery_and_its_transaction(
    make_hub: Callable[..., Any], db: Database, worker: Worker, upstream: str, mediator: str
) -> None:
    tx, deliveries = post_and_settle(make_hub, db, worker, upstream, queued_primary(mediator, "/Failed"))

    delivery = deliveries["mediator"]
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1), "recorded, not retried"
    assert delivery.last_error == "upstream answered HTTP 200; the mediator's outcome: Failed"
    assert (tx.status, tx.response_status) == (Status.FAILED, 201)
    assert [o["name"] for o in tx.orchestrations] == ["mediator", "registry lookup"]


def test_an_invalid_mediator_reply_fails_the_delivery_and_its_transaction(
    make_hub: Callable[..., Any], db: Database, worker: Worker, upstream: str, mediator: str
) -> None:
    tx, deliveries = post_and_settle(make_hub, db, worker, upstream, queued_primary(mediator, "/invalid"))

    delivery = deliveries["mediator"]
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)
    # {"status": "invalid"}: no response (a status the hub does not know counts as none given)
    assert delivery.last_error == (
        "mediator returned an invalid application/json+openhim response: 1 problem(s), first: "
        "response: Field required"
    )
    assert tx.status == Status.FAILED
    assert tx.orchestrations[0]["error"]["message"] == delivery.last_error


@pytest.mark.parametrize(
    ("reported", "expected"),
    [("Failed", Status.COMPLETED_WITH_ERRORS), ("Successful", Status.SUCCESSFUL)],
    ids=["failed", "successful"],
)
def test_a_secondary_mediators_outcome_decides_completed_with_errors(
    make_hub: Callable[..., Any],
    db: Database,
    worker: Worker,
    upstream: str,
    mediator: str,
    reported: str,
    expected: Status,
) -> None:
    primary = {"name": "primary", "url": upstream, "path": "/status/200", "primary": True}
    secondary = {"name": "mediator", "url": mediator, "path": f"/{reported}"}

    tx, _ = post_and_settle(make_hub, db, worker, upstream, primary, secondary)

    assert tx.status == expected
    assert tx.response_status == 200, "a secondary never replaces the client's response"
    assert [o["name"] for o in tx.orchestrations] == ["primary", "mediator", "registry lookup"]
    assert "SECRET-ID" not in repr(tx.orchestrations)


def test_a_secondary_mediator_that_failed_before_the_queued_primary_settled_is_not_forgotten(
    make_hub: Callable[..., Any], db: Database, worker: Worker, upstream: str, mediator: str
) -> None:
    primary = {"name": "primary", "url": upstream, "path": "/sleep/0.5", "primary": True, "queued": True}
    secondary = {"name": "mediator", "url": mediator, "path": "/Failed"}

    tx, deliveries = post_and_settle(make_hub, db, worker, upstream, primary, secondary)

    assert deliveries["mediator"].status == DeliveryStatus.FAILED
    assert deliveries["mediator"].updated_at < deliveries["primary"].updated_at, "settled first"
    assert tx.status == Status.COMPLETED_WITH_ERRORS, "not the primary's Successful"
