"""The transaction log's writer: one thread that commits the gateway's opens and closes in groups.

A request hands its write to the thread and awaits the commit, so it still calls upstream
only after its Processing row is committed, and a close still commits together with its
outbox deliveries. The thread takes every write that is waiting and commits them in one DB
transaction: under load one commit (one WAL flush on PostgreSQL, one write lock on SQLite)
serves many requests, requests never queue for SQLite's write lock, and logging takes no
worker from the shared thread pool.

request ─open─▶ queue ─▶ writer: INSERT … (group) ─ COMMIT ─▶ request calls upstream
request ─close─▶ queue ─▶ writer: UPDATE … (group) + deliveries ─ COMMIT ─▶ request answers

A statement that fails makes each write of its group retry alone, so a bad write fails only
its own request.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from hub.db.base import utcnow
from hub.db.session import Database, Prepared
from hub.outbox.service import DeliverySpec, enqueue
from hub.transactions import service as transactions

MAX_GROUP = 500


@dataclass(slots=True)
class _Close:
    transaction_id: int
    closing: transactions.Closing
    started: datetime
    deliveries: list[DeliverySpec]


@dataclass(slots=True)
class _Write:
    what: transactions.Opening | _Close
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


Outcome = tuple[asyncio.Future[Any], Any, Exception | None]


def _resolve(outcomes: list[Outcome]) -> None:
    for future, result, error in outcomes:
        if future.done():  # the request was cancelled; its write is committed all the same
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)


def _discard(connection: Connection | None) -> None:
    """Drop a connection after an error: the raw cursor's errors bypass SQLAlchemy's disconnect
    handling, so a broken connection would otherwise go back to the pool."""
    if connection is not None:
        with contextlib.suppress(Exception):
            connection.invalidate()
        connection.close()


class LogWriter:
    """Used from one event loop; started on the first write. ``stop()``, at shutdown after the last
    request, commits what is queued and ends the thread."""

    def __init__(self, db: Database, *, max_group: int = MAX_GROUP) -> None:
        self.db = db
        self.max_group = max_group
        self._open = Prepared(transactions.OPEN, db.engine, transactions.OPEN_COLUMNS)
        self._close = Prepared(transactions.CLOSE, db.engine, transactions.CLOSE_COLUMNS)
        self._handover: list[_Write] = []
        self._queue: queue.SimpleQueue[list[_Write] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def open(self, opening: transactions.Opening) -> tuple[int, datetime]:
        """Commit the Processing row; its id and start time."""
        result: tuple[int, datetime] = await self._submit(opening)
        return result

    async def close(
        self,
        transaction_id: int,
        closing: transactions.Closing,
        started: datetime,
        deliveries: list[DeliverySpec],
    ) -> None:
        """Commit the outcome and the outbox deliveries in one DB transaction."""
        await self._submit(_Close(transaction_id, closing, started, deliveries))

    def stop(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    async def _submit(self, what: transactions.Opening | _Close) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        # Everything submitted in one turn of the event loop goes to the thread as one batch:
        # under load that forms groups and saves a thread wake-up per write; alone it costs nothing.
        if not self._handover:
            loop.call_soon(self._hand_over)
        self._handover.append(_Write(what, future, loop))
        return await future

    def _hand_over(self) -> None:
        batch, self._handover = self._handover, []
        if self._thread is None:
            self._start()
        self._queue.put(batch)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hub-log-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        # One connection for the thread's life: no pool checkout, pre-ping or reset per group.
        connection: Connection | None = None
        try:
            while True:
                group = self._queue.get()
                if group is None:
                    return
                stopping = False
                while len(group) < self.max_group:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stopping = True
                        break
                    group += more
                connection = self._commit(connection, group)
                if stopping:
                    return
        finally:
            if connection is not None:
                connection.close()

    def _commit(self, connection: Connection | None, group: list[_Write]) -> Connection | None:
        """Commit ``group`` in one DB transaction; the connection to use next (None after an error).

        A statement that fails rolls the group back and each write is retried alone. A failed
        COMMIT is not retried, as it may have committed: every write of the group fails.
        """
        try:
            connection = connection or self.db.engine.connect()
            transaction = connection.begin()
            try:
                results = self._apply(connection, [w.what for w in group])
            except Exception:
                transaction.rollback()
                raise
        except Exception as exc:
            _discard(connection)
            if len(group) == 1:
                self._settle([(group[0], None, exc)])
                return None
            connection = None
            for write in group:
                connection = self._commit(connection, [write])
            return connection
        try:
            transaction.commit()
        except Exception as exc:
            _discard(connection)
            self._settle([(w, None, exc) for w in group])
            return None
        self._settle([(w, r, None) for w, r in zip(group, results, strict=True)])
        return connection

    def _apply(self, connection: Connection, writes: list[transactions.Opening | _Close]) -> list[Any]:
        now = utcnow()
        opens = [transactions.opening_row(w, now) for w in writes if isinstance(w, transactions.Opening)]
        ids = self._open.insert_many(connection, opens) if opens else []
        closes = [w for w in writes if isinstance(w, _Close)]
        if closes:
            self._close.update_many(
                connection,
                [transactions.closing_row(c.transaction_id, c.closing, c.started, now) for c in closes],
            )
            queued = [c for c in closes if c.deliveries]
            if queued:
                # A session joined to the connection's transaction: the group's commit covers it.
                with Session(bind=connection) as session:
                    for c in queued:
                        enqueue(session, transaction_id=c.transaction_id, deliveries=c.deliveries)
        opened = iter(ids)
        return [(next(opened), now) if isinstance(w, transactions.Opening) else None for w in writes]

    @staticmethod
    def _settle(done: list[tuple[_Write, Any, Exception | None]]) -> None:
        """Wake the waiting requests: one call into each event loop for the whole group."""
        by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
        for write, result, error in done:
            by_loop.setdefault(write.loop, []).append((write.future, result, error))
        for loop, outcomes in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, outcomes)
            except RuntimeError:  # the loop has closed: nobody is waiting any more
                continue
