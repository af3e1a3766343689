"""Retention's body cull holds for what reaches a transaction after it: a queued delivery that
settles (or is retried from the outbox) once the row's bodies are culled adds its outcome without
bodies, so no body outlives the cull age; rows still Pending Async are left to the outbox at start-up."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hub.db.base import utcnow
from hub.instances.service import Orphans
from hub.transactions import service as transactions
from hub.transactions.models import Status, Transaction

ORCHESTRATION = {
    "name": "queued-primary",
    "request": {"method": "POST", "url": "http://up.test/x", "body": "late request"},
    "response": {"status": 200, "body": "late answer", "timestamp": "2024-01-01T00:00:00+00:00"},
    "duration_ms": 1.0,
}


def _pending_async(db, *, days_old: float) -> int:
    opening = transactions.Opening("r", "POST", "/x", "", None, None, "c", {}, '{"a":1}', 7, True)
    with db.session() as session:
        tx_id, started = transactions.open_transaction(session, opening)
        closing = transactions.Closing(Status.PENDING_ASYNC, 202, {}, '{"queued":true}', [], {})
        transactions.close_transaction(session, tx_id, closing, started)
        session.get_one(Transaction, tx_id).started_at = utcnow() - timedelta(days=days_old)
    return tx_id


def test_an_outcome_that_arrives_after_the_cull_is_kept_without_bodies(db):
    culled, recent = _pending_async(db, days_old=40), _pending_async(db, days_old=1)
    with db.session() as session:
        assert transactions.cull_bodies(session, older_than=timedelta(days=30)) == 1
    with db.session() as session:
        for tx_id in (culled, recent):
            transactions.append_orchestration(
                session,
                tx_id,
                ORCHESTRATION,
                status=Status.SUCCESSFUL,
                response={"status": 200, "body": "late answer"},
            )
    with db.session() as session:
        rows = {r.id: r for r in session.scalars(select(Transaction))}

    late = rows[culled]
    assert (late.status, late.response_status, late.response_body) == (Status.SUCCESSFUL, 200, None)
    assert late.orchestrations == [
        {
            "name": "queued-primary",
            "request": {"method": "POST", "url": "http://up.test/x"},
            "response": {"status": 200, "timestamp": "2024-01-01T00:00:00+00:00"},
            "duration_ms": 1.0,
        }
    ]
    assert late.bodies_culled is True
    # a row retention has not reached keeps what arrives whole
    assert rows[recent].response_body == "late answer" and rows[recent].orchestrations == [ORCHESTRATION]


def test_start_up_recovery_fails_only_rows_left_processing(db):
    owed = _pending_async(db, days_old=0)
    opening = transactions.Opening("r", "GET", "/y", "", None, None, "c", {}, None, 0, True)
    with db.session() as session:
        stuck, _ = transactions.open_transaction(session, opening)
        assert transactions.recover_processing(session, Orphans("me", utcnow(), at_start=True)) == 1
    with db.session() as session:
        rows = {r.id: r for r in session.scalars(select(Transaction))}

    assert rows[owed].status == Status.PENDING_ASYNC and rows[owed].error is None, "the outbox owns it"
    assert rows[stuck].status == Status.FAILED and rows[stuck].finished_at is not None
    assert "rerun" in rows[stuck].error["message"]
