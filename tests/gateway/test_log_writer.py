"""The transaction log writer: concurrent writes commit in groups, and a bad write fails only its request."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from typing import Any

import pytest
import uvloop
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from hub.db.base import utcnow
from hub.db.session import Database, Prepared
from hub.gateway.log_process import GroupCommitter, micros, writer_database
from hub.gateway.log_writer import LogUnavailable, LogWriter, _Link
from hub.outbox.models import Delivery
from hub.outbox.service import DeliverySpec
from hub.transactions import service as transactions
from hub.transactions.models import Status, Transaction

MISSING_CHANNEL = 987_654
MISSING_TRANSACTION = 987_655
INSTANCE = "writer-test-instance"


def opening(request_id: str, channel_pk: int | None = None) -> transactions.Opening:
    return transactions.Opening(
        request_id, "POST", "/in", "a=1", "partner-1", channel_pk, "in", {"x": "1"}, '{"v":1}', 7, True
    )


CLOSING = transactions.Closing(
    Status.SUCCESSFUL, 200, {"content-type": "application/json"}, '{"ok":true}', [{"name": "up"}], {}
)


def run(db: Database, scenario: Any) -> tuple[Any, int]:
    """Run ``scenario(writer)`` on an event loop; its result and how many DB transactions the
    writer process began."""
    writer = LogWriter(db, INSTANCE)
    try:
        return asyncio.run(scenario(writer)), writer.commits
    finally:
        writer.stop()


def test_concurrent_requests_commit_in_groups(db: Database) -> None:
    async def request(writer: LogWriter, n: int) -> tuple[int, str]:
        tx_id, started = await writer.open(opening(f"req-{n}"))
        await writer.close(tx_id, CLOSING, started, [])
        return tx_id, f"req-{n}"

    async def scenario(writer: LogWriter) -> list[tuple[int, str]]:
        return await asyncio.gather(*(request(writer, n) for n in range(40)))

    answered, groups = run(db, scenario)

    assert len({tx_id for tx_id, _ in answered}) == 40
    assert groups < 40, "writes waiting together commit together"
    with db.session() as session:
        rows = session.scalars(select(Transaction).order_by(Transaction.id)).all()
    assert [r.request_id for r in rows] == [f"req-{n}" for n in range(40)]
    assert {r.id: r.request_id for r in rows} == dict(answered), "each request gets its own row's id"
    assert all(r.status == Status.SUCCESSFUL and r.finished_at and r.duration_ms is not None for r in rows)
    assert rows[0].request_headers == {"x": "1"} and rows[0].orchestrations == [{"name": "up"}]
    assert rows[0].started_at.tzinfo is not None and rows[0].error is None
    assert {r.instance for r in rows} == {INSTANCE}, "each open records the writing process's instance"


def test_a_failing_write_fails_only_its_own_request(db: Database) -> None:
    async def scenario(writer: LogWriter) -> list[Any]:
        writes = [writer.open(opening("ok-1")), writer.open(opening("bad", MISSING_CHANNEL))]
        return await asyncio.gather(*writes, writer.open(opening("ok-2")), return_exceptions=True)

    (first, bad, last), _ = run(db, scenario)

    assert isinstance(bad, IntegrityError), "the driver's error surfaces as SQLAlchemy's"
    assert isinstance(first, tuple) and isinstance(last, tuple)
    with db.session() as session:
        assert session.scalars(select(Transaction.request_id).order_by(Transaction.id)).all() == [
            "ok-1",
            "ok-2",
        ]


@pytest.mark.parametrize("deliveries", [0, 2], ids=["no-deliveries", "with-deliveries"])
def test_close_commits_its_deliveries(db: Database, deliveries: int) -> None:
    spec = DeliverySpec("second", "POST", "http://127.0.0.1:9/x", {}, b"{}", 5.0, 3)

    async def scenario(writer: LogWriter) -> int:
        tx_id, started = await writer.open(opening("req"))
        await writer.close(tx_id, CLOSING, started, [spec] * deliveries)
        return tx_id

    tx_id, _ = run(db, scenario)

    with db.session() as session:
        queued = session.scalars(select(Delivery).where(Delivery.transaction_id == tx_id)).all()
        assert session.get(Transaction, tx_id).status == Status.SUCCESSFUL
    assert [d.route_name for d in queued] == ["second"] * deliveries


def test_a_refused_close_fails_only_its_own_request(db: Database) -> None:
    """A close whose delivery names no transaction breaks a foreign key: the database refuses it
    (on PostgreSQL, reported with the group's pipeline, at its COMMIT), and the writes grouped
    with it are committed all the same."""
    spec = DeliverySpec("second", "POST", "http://127.0.0.1:9/x", {}, b"{}", 5.0, 3)

    async def scenario(writer: LogWriter) -> list[Any]:
        started = micros(utcnow())
        writes = [
            writer.open(opening("ok-1")),
            writer.close(MISSING_TRANSACTION, CLOSING, started, [spec]),
            writer.open(opening("ok-2")),
        ]
        return await asyncio.gather(*writes, return_exceptions=True)

    (first, bad, last), groups = run(db, scenario)

    assert isinstance(bad, IntegrityError), bad
    assert isinstance(first, tuple) and isinstance(last, tuple)
    assert groups > 1, "the group was retried write by write"
    with db.session() as session:
        assert session.scalars(select(Transaction.request_id).order_by(Transaction.id)).all() == [
            "ok-1",
            "ok-2",
        ]
        assert session.scalars(select(Delivery)).all() == []


def test_prepared_statements_split_many_rows_and_keep_their_order(db: Database) -> None:
    """Rows go as multi-row statements, sliced to stay within the driver's bound values; each row
    gets its own key back, and each update lands on its own row."""
    positional = writer_database(db.url)
    engine = positional.engine
    opens = Prepared(transactions.OPEN, engine, transactions.OPEN_COLUMNS)
    closes = Prepared(transactions.CLOSE, engine, transactions.CLOSE_COLUMNS)
    opens._per_statement = closes._per_statement = 3  # 7 rows: statements of 3, 3 and 1
    now = utcnow()
    with engine.begin() as connection:
        rows = [transactions.opening_values(opening(f"r{n}")) for n in range(7)]
        ids = opens.insert_many(connection, opens.rows(rows, transactions.opening_shared(now, INSTANCE)))
        closing = [
            transactions.closing_values(tx_id, replace(CLOSING, response_status=200 + n), 0.0)
            for n, tx_id in enumerate(ids)
        ]
        closes.update_many(connection, closes.rows(closing, transactions.closing_shared(now)))
    positional.dispose()
    with db.session() as session:
        stored = {r.id: r for r in session.scalars(select(Transaction))}
    assert [stored[i].request_id for i in ids] == [f"r{n}" for n in range(7)]
    assert [stored[i].response_status for i in ids] == [200 + n for n in range(7)]
    assert all(stored[i].status == Status.SUCCESSFUL for i in ids)


def test_a_dead_writer_process_fails_its_waiting_writes_and_is_replaced(db: Database) -> None:
    async def scenario(writer: LogWriter) -> tuple[Any, Any, Any]:
        before = await writer.open(opening("before"))
        process = writer._process
        assert process is not None
        process.kill()  # as a crash would
        process.join()
        lost = await asyncio.gather(writer.open(opening("lost")), return_exceptions=True)
        after = await writer.open(opening("after"))
        return before, lost[0], after

    (before, lost, after), _ = run(db, scenario)

    assert isinstance(lost, LogUnavailable) and lost.status == 503
    assert after[0] > before[0], "the next write started a new writer process"
    with db.session() as session:
        assert session.scalars(select(Transaction.request_id).order_by(Transaction.id)).all() == [
            "before",
            "after",
        ]


def test_a_write_queued_as_the_writer_process_goes_fails_without_a_loop_error(db: Database) -> None:
    """On uvloop (as ``hub serve`` runs), in one turn of the loop: the writer's end is read closed,
    then a request queues a write before the link hears of it. The write fails as LogUnavailable;
    the frame is not written to the closed connection (a RuntimeError in the loop's log)."""
    errors: list[Any] = []

    class Request(asyncio.Protocol):
        def __init__(self, link: _Link, future: asyncio.Future[Any]) -> None:
            self.link, self.future = link, future

        def data_received(self, data: bytes) -> None:
            self.link.send(1, opening("queued"), self.future)

    async def scenario() -> Any:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: errors.append(context))
        hub_end, writer_end = socket.socketpair()
        server_end, client_end = socket.socketpair()
        link = _Link(loop, LogWriter(db, INSTANCE))
        await loop.create_connection(lambda: link, sock=hub_end)
        future = loop.create_future()
        await loop.create_connection(lambda: Request(link, future), sock=server_end)
        writer_end.close()  # the writer process's end goes first ...
        client_end.send(b"GET")  # ... then a request arrives, in the same poll of the loop
        outcome = await asyncio.gather(asyncio.wait_for(future, 5), return_exceptions=True)
        await asyncio.sleep(0.05)  # the turn after: where the frame would have been written
        client_end.close()
        return outcome[0], link.lost

    failure, lost = uvloop.run(scenario())

    assert lost
    assert isinstance(failure, LogUnavailable)
    assert errors == []


def test_a_lost_connection_is_retried_only_where_nothing_can_have_committed(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a group without deliveries is one autocommitted statement: when the connection
    is lost during it, the group may have committed, so no write is retried (that could log a
    request twice) and each fails unconfirmed (a 503 whose row the gateway fails if it is there).
    On SQLite the group's statements run inside a transaction that had not committed, but no write
    is at fault (nor would waiting again help): every write fails at once with the error."""
    writer_db = writer_database(db.url)
    committer = GroupCommitter(writer_db, INSTANCE)
    attempts = []

    def lost(*args: Any) -> None:
        attempts.append(args)
        raise OperationalError("INSERT …", None, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(Prepared, "insert_after_update", lost)
    monkeypatch.setattr(Prepared, "insert_many", lost)
    outcomes = committer.commit([opening("a"), opening("b")])
    committer.close()
    writer_db.dispose()

    assert len(attempts) == 1
    failed = OperationalError if db.dialect == "sqlite" else LogUnavailable
    assert [type(error) for _, error in outcomes] == [failed, failed]
