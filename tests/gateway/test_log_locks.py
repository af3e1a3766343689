"""The log writer when the database is unavailable before COMMIT (SQLite locked past its busy_timeout,
a PostgreSQL connection lost): nothing was committed and no write is at fault, so no write is retried
alone: on PostgreSQL the group is retried once whole, then (on SQLite at once) every write fails with
the database's OperationalError (which the gateway answers with a 503)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from hub.db import session as db_session
from hub.db.session import Database
from hub.gateway.log_process import (
    Close,
    Frames,
    GroupCommitter,
    _commit_frames,
    encode,
    frame,
    writer_database,
)
from hub.outbox.models import Delivery
from hub.outbox.service import DeliverySpec
from hub.transactions.models import Status, Transaction
from tests.conftest import PG_URL
from tests.gateway.test_log_writer import CLOSING, INSTANCE, opening

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
BUSY_TIMEOUT_S = 0.3
GROUP = 10


def connect(database_url: str) -> sqlite3.Connection:
    """A plain connection to the SQLite database, not the hub's: it begins no transaction unasked."""
    return sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)


@contextmanager
def locked(database_url: str) -> Iterator[None]:
    """Another connection holds the SQLite database's write lock in the block."""
    with closing(connect(database_url)) as locker:
        locker.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            locker.execute("ROLLBACK")


@SQLITE
def test_a_group_waiting_on_a_locked_database_fails_at_once_not_write_by_write(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retried alone, each of the group's writes would wait its busy_timeout again (its client
    waiting about ``GROUP`` times as long for its 503), and retried whole it would wait once more:
    every write fails at once with the database's OperationalError, which reaches the hub's
    process as it is (a 503 there; nothing was committed, so it is not reported unconfirmed).
    Once the lock is released, the same writes commit."""
    monkeypatch.setattr(db_session, "SQLITE_BUSY_TIMEOUT_MS", int(BUSY_TIMEOUT_S * 1000))
    writer_db = writer_database(db.url)
    committer = GroupCommitter(writer_db, INSTANCE)
    group = [(n, encode(opening(f"req-{n}"))) for n in range(GROUP)]
    frames = Frames()

    def send() -> tuple[list[Exception | None], int]:
        """The group's errors as the hub's process reads them, and the DB transactions begun."""
        [(answers, commits)] = frames.feed(frame(_commit_frames(committer, group, GROUP)))
        return [error for _, _, error in answers], commits

    try:
        with locked(db.url):
            began = time.monotonic()
            errors, commits = send()
            waited = time.monotonic() - began
        retried, retried_commits = send()
    finally:
        committer.close()
        writer_db.dispose()

    assert commits == 1, "the group alone, not each write again"
    assert waited < GROUP * BUSY_TIMEOUT_S * 0.6
    assert all(isinstance(error, OperationalError) for error in errors), errors
    assert "database is locked" in str(errors[0])
    assert retried == [None] * GROUP and retried_commits == 1
    with db.session() as session:
        logged = session.scalars(select(Transaction.request_id).order_by(Transaction.id)).all()
    assert logged == [f"req-{n}" for n in range(GROUP)]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.skipif(not PG_URL, reason="HUB_TEST_POSTGRES_URL is not set (scripts/test and CI set it)")
def test_a_group_whose_connection_was_lost_is_retried_whole_on_a_new_one(db: Database) -> None:
    """A group with deliveries runs in a DB transaction; its kept connection was lost meanwhile (the
    server ended it): nothing was committed, so the group is retried once whole on a new connection,
    and commits."""
    writer_db = writer_database(db.url)
    committer = GroupCommitter(writer_db, INSTANCE)
    try:
        [((first_id, first_at), _), ((second_id, second_at), _)] = committer.commit(
            [opening("a"), opening("b")]
        )
        assert committer._connection is not None
        backend = committer._connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        committer._connection.rollback()
        with db.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        spec = DeliverySpec("second", "POST", "http://127.0.0.1:9/x", {}, b"{}", 5.0, 3)
        before = committer.commits
        outcomes = committer.commit(
            [Close(first_id, CLOSING, first_at, [spec]), Close(second_id, CLOSING, second_at, [spec])]
        )
        commits = committer.commits - before
    finally:
        committer.close()
        writer_db.dispose()

    assert outcomes == [(None, None), (None, None)]
    assert commits == 2, "the group, then once whole on a new connection"
    with db.session() as session:
        statuses = session.scalars(select(Transaction.status).order_by(Transaction.id)).all()
        queued = session.scalars(select(Delivery.transaction_id).order_by(Delivery.transaction_id)).all()
    assert statuses == [Status.SUCCESSFUL, Status.SUCCESSFUL]
    assert queued == [first_id, second_id]
