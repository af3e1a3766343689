"""Request lines as long as the servers in front of DHIS2 and FHIR servers take (about 8 KB): logged,
forwarded and queued on both databases, never refused by a column's length."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from hub.db.session import Database
from hub.outbox.models import Delivery, DeliveryStatus
from hub.outbox.worker import Worker
from hub.transactions.models import Status, Transaction
from tests.conftest import PARTNER, PASSWORD, channel
from tests.outbox.support import work_until

pytestmark = pytest.mark.usefixtures("partner_password")

PATH = "/long/" + "segment-" * 300  # 2,406 characters
QUERY = "_id=" + ",".join(f"patient-{i:05d}" for i in range(400))  # a FHIR search: 5,603 characters


def test_long_paths_and_queries_are_logged_forwarded_and_queued(
    make_hub: Callable[..., Any], db: Database, worker: Worker, upstream: str, upstream_log: Any
) -> None:
    routes = [
        {"name": "primary", "url": upstream, "primary": True},
        {"name": "copy", "url": upstream},
    ]
    spec = channel("long", r"/long/.*", upstream, routes=routes)
    hub = make_hub({"clients": [PARTNER], "channels": [spec]})
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get(f"{PATH}?{QUERY}")
    assert r.status_code == 200, r.text
    with db.session() as session:
        tx = session.get_one(Transaction, int(r.headers["x-hub-transaction-id"]))
        [delivery] = session.scalars(select(Delivery)).all()
        assert (tx.status, tx.path, tx.query) == (Status.SUCCESSFUL, PATH, QUERY)
        assert delivery.url == f"{upstream}{PATH}?{QUERY}"
    work_until(worker, db, [delivery.id])
    with db.session() as session:
        assert session.get_one(Delivery, delivery.id).status == DeliveryStatus.DELIVERED
    assert [(c["path"], c["query"]) for c in upstream_log()] == [(PATH, QUERY)] * 2
