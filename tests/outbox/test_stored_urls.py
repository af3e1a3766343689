"""A URL's query is logged and shown as the transaction's own query is (credentials and the body
policy's fields masked): in the primary's and the queued routes' orchestrations and in the admin
API's and CLI's view of a delivery, while the upstreams get it, and the outbox keeps it, as sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from hub.db.session import Database
from hub.outbox.models import Delivery
from hub.outbox.worker import Worker
from hub.transactions.models import Transaction
from tests.conftest import PARTNER, PASSWORD, channel
from tests.outbox.support import work_until

pytestmark = pytest.mark.usefixtures("partner_password")

SENT = "identifier=NID999&access_token=SECRET123&_count=5"
SHOWN = "identifier=***&access_token=***&_count=5"


def test_queries_in_orchestrations_and_delivery_views_are_masked(
    make_hub: Callable[..., Any],
    db: Database,
    worker: Worker,
    upstream: str,
    upstream_log: Any,
    hub_cli: Callable[..., str],
) -> None:
    routes = [{"name": "primary", "url": upstream, "primary": True}, {"name": "copy", "url": upstream}]
    policy = {"redact_fields": ["identifier"]}
    spec = channel("fanout", r"/fanout", upstream, routes=routes, body_policy=policy)
    hub = make_hub({"clients": [PARTNER], "channels": [spec]})
    with hub.client("partner-1", PASSWORD) as c:
        tx_id = int(c.get(f"/fanout?{SENT}").headers["x-hub-transaction-id"])
    with db.session() as session:
        [delivery] = session.scalars(select(Delivery)).all()
    work_until(worker, db, [delivery.id])
    with hub.admin() as admin:
        listed = admin.get("/admin/outbox").json()["items"]
        detail = admin.get(f"/admin/outbox/{delivery.id}").json()
        shown_tx = admin.get(f"/admin/transactions/{tx_id}").json()
    cli = json.loads(hub_cli("outbox", "list", "--json"))

    with db.session() as session:
        tx = session.get_one(Transaction, tx_id)
        kept_url = session.get_one(Delivery, delivery.id).url
    assert tx.query == SHOWN
    assert [o["request"]["url"] for o in tx.orchestrations] == [f"{upstream}/fanout?{SHOWN}"] * 2
    assert [d["url"] for d in (*listed, detail, *cli)] == [f"{upstream}/fanout?{SHOWN}"] * 3
    assert [o["request"]["url"] for o in shown_tx["orchestrations"]] == [f"{upstream}/fanout?{SHOWN}"] * 2
    assert kept_url == f"{upstream}/fanout?{SENT}", "the outbox sends what the client sent"
    assert [r["query"] for r in upstream_log()] == [SENT, SENT]
