"""Every filter of the admin API's transaction and delivery lists pages without a sort or a full scan.

A page is newest first by id, with or without a cursor. On SQLite its plan must walk the
filter's own index, which ends in id. PostgreSQL chooses by cost between that index and a
backward walk of the primary key that skips non-matching rows; either way it must neither sort
nor scan the whole table."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Select, insert, text

from hub.db.base import utcnow
from hub.db.session import Database
from hub.outbox import service as outbox
from hub.outbox.models import Delivery, DeliveryStatus
from hub.transactions import service as transactions
from hub.transactions.models import Status, Transaction

ROWS = 20_000
# One row in EVERY carries the value each filter looks for (2.5%): without an index that ends in
# id, the newest page of them means reading past ~40 other rows for each, or sorting them all.
EVERY = 40


def _transaction(i: int, start: Any) -> dict[str, Any]:
    sampled = i % EVERY == 0
    return {
        "request_id": f"r{i}",
        "method": "POST",
        "path": "/x",
        "client_id": "sampled-client" if sampled else f"client-{i % 7}",
        "channel_name": "sampled-channel" if sampled else f"channel-{i % 5}",
        "status": Status.FAILED if sampled else Status.SUCCESSFUL,
        "started_at": start + timedelta(seconds=i),
    }


def _delivery(i: int) -> dict[str, Any]:
    sampled = i % EVERY == 0
    return {
        "route_name": "sampled-route" if sampled else f"route-{i % 3}",
        "method": "POST",
        "url": "http://upstream/x",
        "idempotency_key": f"k{i}",
        "status": DeliveryStatus.DEAD if sampled else DeliveryStatus.DELIVERED,
    }


@pytest.fixture
def populated(db: Database) -> Database:
    start = utcnow() - timedelta(days=1)
    with db.engine.begin() as conn:
        conn.execute(insert(Transaction), [_transaction(i, start) for i in range(ROWS)])
        conn.execute(insert(Delivery), [_delivery(i) for i in range(ROWS)])
        conn.execute(text("ANALYZE"))
    return db


def plan(db: Database, query: Select[Any]) -> str:
    """The database's own plan for ``query``, as one text."""
    compiled = query.compile(dialect=db.engine.dialect)
    if db.dialect == "sqlite":
        explain = f"EXPLAIN QUERY PLAN {compiled.string}"
        parameters: Any = tuple(compiled.params[name] for name in compiled.positiontup or ())
    else:
        explain, parameters = f"EXPLAIN {compiled.string}", compiled.params
    with db.engine.connect() as conn:
        return "\n".join(str(row[-1]) for row in conn.exec_driver_sql(explain, parameters))


CASES = [
    (transactions.page_query, transactions.Filters(status=Status.FAILED), "ix_transactions_by_status"),
    (transactions.page_query, transactions.Filters(channel="sampled-channel"), "ix_transactions_by_channel"),
    (transactions.page_query, transactions.Filters(client_id="sampled-client"), "ix_transactions_by_client"),
    (outbox.page_query, outbox.Filters(status=DeliveryStatus.DEAD), "ix_deliveries_by_status"),
    (outbox.page_query, outbox.Filters(route="sampled-route"), "ix_deliveries_by_route"),
]


def _walks(shown: str, index: str, dialect: str) -> bool:
    if dialect == "sqlite":
        return f"INDEX {index} (" in shown and "TEMP B-TREE" not in shown
    return "Seq Scan" not in shown and "Sort" not in shown


def test_a_filtered_page_walks_an_index_and_finds_its_rows_newest_first(populated: Database) -> None:
    failures = []
    for page_query, filters, index in CASES:
        for before_id in (None, ROWS // 2):  # the first page, and one further on
            shown = plan(populated, page_query(filters, before_id=before_id, limit=50))
            if not _walks(shown, index, populated.dialect):
                failures.append(f"{filters} before {before_id}, expected a walk of {index}:\n{shown}")
    assert not failures, "\n".join(failures)

    # and the pages still hold the filter's rows, newest first, the cursor going on from the last
    with populated.session() as session:
        failed = transactions.list_page(session, filters=transactions.Filters(status=Status.FAILED), limit=3)
        after = transactions.list_page(
            session, filters=transactions.Filters(status=Status.FAILED), before_id=failed[-1].id, limit=2
        )
        dead = outbox.list_page(session, filters=outbox.Filters(route="sampled-route"), limit=ROWS)
    newest = ROWS - EVERY
    assert [t.request_id for t in failed + after] == [
        f"r{i}" for i in range(newest, newest - 5 * EVERY, -EVERY)
    ]
    assert len(dead) == ROWS // EVERY
    assert [d.id for d in dead] == sorted((d.id for d in dead), reverse=True)
