"""Migration 0019: each body cull walks a partial index of the rows it has yet to cull, never every
row already culled; ``transactions.mediator_urn`` is unbounded (cut to 300 characters on the way
down, on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import event, insert, text

from hub.db.base import utcnow
from hub.db.migrate import alembic_config
from hub.db.session import Database
from hub.outbox import service as outbox
from hub.outbox.models import Delivery, DeliveryStatus
from hub.transactions import service as transactions
from hub.transactions.models import Status, Transaction

INDEXES = {"transactions": "ix_transactions_unculled", "deliveries": "ix_deliveries_unculled"}
ROWS = 20_000
DUE = 50  # of the old rows, those whose bodies are still kept
AGE = timedelta(days=30)


def _indexes(db: Database) -> set[str]:
    inspector = sa.inspect(db.engine)
    return {i["name"] for table in INDEXES for i in inspector.get_indexes(table)} & set(INDEXES.values())


def _urn(db: Database) -> tuple[int | None, str]:
    """The length ``transactions.mediator_urn`` is declared with (SQLite never enforced it), and
    the urn stored."""
    columns = sa.inspect(db.engine).get_columns("transactions")
    [declared] = [getattr(c["type"], "length", None) for c in columns if c["name"] == "mediator_urn"]
    with db.engine.connect() as conn:
        return declared, conn.scalar(text("SELECT mediator_urn FROM transactions"))


def test_the_migration_adds_the_indexes_and_widens_the_urn_and_its_downgrade_undoes_both(
    db: Database, database_url: str
) -> None:
    config = alembic_config(database_url)
    long_urn = "urn:" + "u" * 400
    with db.engine.begin() as conn:
        conn.execute(
            insert(Transaction), [{"request_id": "r", "method": "GET", "path": "/", "mediator_urn": long_urn}]
        )
    declared = None if db.dialect == "postgresql" else 300  # SQLite's column never changed
    assert (_indexes(db), _urn(db)) == (set(INDEXES.values()), (declared, long_urn))

    command.downgrade(config, "0018")
    cut = long_urn[:300] if db.dialect == "postgresql" else long_urn
    assert (_indexes(db), _urn(db)) == (set(), (300, cut))

    # as an operator may build one before the upgrade, on PostgreSQL without blocking writes
    how, culled = ("CONCURRENTLY", "false") if db.dialect == "postgresql" else ("", "0")
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(
            f"CREATE INDEX {how} ix_transactions_unculled ON transactions (started_at)"
            f" WHERE bodies_culled IS {culled}"
        )
    command.upgrade(config, "heads")
    assert (_indexes(db), _urn(db)) == (set(INDEXES.values()), (declared, cut))


@pytest.fixture
def populated(db: Database) -> Database:
    """``ROWS`` transactions and deliveries past the cull's age, all culled but ``DUE`` of them."""
    old = utcnow() - AGE - timedelta(days=1)
    culled = [i >= DUE for i in range(ROWS)]
    with db.engine.begin() as conn:
        conn.execute(
            insert(Transaction),
            [
                {
                    "request_id": f"r{i}",
                    "method": "POST",
                    "path": "/x",
                    "status": Status.SUCCESSFUL,
                    "started_at": old + timedelta(seconds=i),
                    "bodies_culled": done,
                    "request_body": None if done else "{}",
                }
                for i, done in enumerate(culled)
            ],
        )
        conn.execute(
            insert(Delivery),
            [
                {
                    "route_name": "r",
                    "method": "POST",
                    "url": "http://upstream/x",
                    "idempotency_key": f"k{i}",
                    "status": DeliveryStatus.DELIVERED,
                    "created_at": old + timedelta(seconds=i),
                    "body": outbox.CULLED if done else b"{}",
                }
                for i, done in enumerate(culled)
            ],
        )
        conn.execute(text("ANALYZE"))
    return db


@contextmanager
def selects(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """The SELECTs run on ``db`` meanwhile, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)


def plan(db: Database, statement: str, parameters: Any) -> str:
    explain = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
    with db.engine.connect() as conn:
        return "\n".join(str(row[-1]) for row in conn.exec_driver_sql(explain + statement, parameters))


CULLS: list[tuple[str, Callable[..., int]]] = [
    ("transactions", transactions.cull_bodies),
    ("deliveries", outbox.cull_bodies),
]


@pytest.mark.parametrize(("table", "cull"), CULLS, ids=[t for t, _ in CULLS])
def test_a_cull_walks_its_own_index(populated: Database, table: str, cull: Callable[..., int]) -> None:
    with populated.session() as session, selects(populated) as seen:
        assert cull(session, older_than=AGE) == DUE

    first, *later = [plan(populated, *s) for s in seen]
    index = INDEXES[table]
    if populated.dialect == "sqlite":
        assert f"USING INDEX {index} (" in first, first
        assert not [p for p in later if f"SCAN {table}" in p], later
    else:
        assert f"using {index} on {table}" in first, first
        assert not [p for p in later if "Seq Scan" in p], later
