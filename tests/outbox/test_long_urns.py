"""A mediator's reply may name an urn of any length (it need not be registered; OpenHIM sets no
limit): its outcome is recorded whole on both databases, by a queued route's worker as by the
gateway (migration 0019; PostgreSQL refused more than 300 characters)."""

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

URN = "urn:mediator:" + "long-name-" * 40  # 413 characters


@pytest.fixture(scope="module")
def mediator() -> Iterator[str]:
    """Answers every POST with a mediator reply that names ``URN``."""

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            reply = {
                "x-mediator-urn": URN,
                "status": "Successful",
                "response": {"status": 201, "headers": {}, "body": "saved"},
                "properties": {"matched": True},
            }
            self.reply(json.dumps(reply).encode(), "application/json+openhim")

    with serving(Handler) as url:
        yield url


@pytest.mark.parametrize("queued", [True, False], ids=["worker", "gateway"])
def test_a_reply_with_a_long_urn_is_recorded_whole(
    make_hub: Callable[..., Any], db: Database, worker: Worker, upstream: str, mediator: str, queued: bool
) -> None:
    route = {"name": "mediator", "url": mediator, "primary": True, "queued": queued, "max_attempts": 2}
    hub = make_hub({"clients": [PARTNER], "channels": [channel("m", r"/m", upstream, routes=[route])]})
    with hub.client("partner-1", PASSWORD) as c:
        answer = c.post("/m", json={"visits": 2})
    assert answer.status_code == (202 if queued else 201), answer.text
    tx_id = int(answer.headers["x-hub-transaction-id"])
    with db.session() as session:
        deliveries = list(session.scalars(select(Delivery).where(Delivery.transaction_id == tx_id)))
    work_until(worker, db, [d.id for d in deliveries])

    with db.session() as session:
        tx = session.get_one(Transaction, tx_id)
        attempts = [(d.status, d.attempts) for d in session.scalars(select(Delivery))]
    assert attempts == ([(DeliveryStatus.DELIVERED, 1)] if queued else [])
    assert (tx.status, tx.response_status, tx.response_body) == (Status.SUCCESSFUL, 201, "saved")
    assert (tx.mediator_urn, tx.properties) == (URN, {"matched": True})
