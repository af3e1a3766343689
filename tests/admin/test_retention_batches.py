"""Retention goes a batch at a time, each its own DB transaction (``hub.db.batches``): a run that
stops keeps the batches it finished, and the next run does the rest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from hub.db import batches
from hub.db.base import utcnow
from hub.db.session import Database
from hub.settings import Settings
from hub.transactions import retention
from hub.transactions.models import Status, Transaction


def test_a_stopped_run_keeps_its_finished_batches(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batches, "BATCH", 2)
    old, recent = utcnow() - timedelta(days=40), utcnow()
    with db.engine.begin() as conn:
        rows = [{"started_at": old}] * 5 + [{"started_at": recent}]
        conn.execute(
            insert(Transaction),
            [{"request_id": f"r{i}", "method": "GET", "path": "/x", "status": Status.SUCCESSFUL, **r}
             for i, r in enumerate(rows)],
        )  # fmt: skip
    settings = Settings(env="test", database_url=db.url, body_cull_after_days=None, purge_after_days=30)
    deletes: list[str] = []

    def third_delete_fails(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("DELETE FROM transactions"):
            deletes.append(statement)
            if len(deletes) == 3:
                raise RuntimeError("the process stops here")

    event.listen(db.engine, "before_cursor_execute", third_delete_fails)
    try:
        with pytest.raises(RuntimeError), db.session() as session:
            retention.apply(session, settings)
    finally:
        event.remove(db.engine, "before_cursor_execute", third_delete_fails)

    def started() -> list[Any]:
        with db.session() as session:
            return list(session.scalars(select(Transaction.started_at).order_by(Transaction.id)))

    assert len(deletes) == 3 and len(started()) == 2, "two batches of two were committed before the stop"
    with db.session() as session:
        assert retention.apply(session, settings).transactions_purged == 1, "the next run does the rest"
    assert started() == [recent]
