"""The transaction log's writer process: it commits the gateway's opens and closes in groups.

The hub's process sends its writes over a socket (``hub.gateway.log_writer``), a frame per turn
of its event loop. Here every frame that arrived while the last group was committing makes
the next group, committed as one DB transaction and answered with the results. Under
load one commit (one WAL flush on PostgreSQL, one write lock on SQLite) serves many requests,
and the Python work of writing (rows, type conversions, the driver) runs on another core than
the event loop's and never takes its GIL.

    socket ─frames─▶ INSERT opens, UPDATE closes + outbox deliveries ─ COMMIT ─answer─▶ socket

A statement that fails makes each write of its group retry alone, so a bad write fails only
its own request; a close refused even alone is retried bare (its status and deliveries, no
documents), so its transaction does not stay Processing. The database unavailable before COMMIT
(SQLite locked past its busy_timeout, a connection refused or lost) is no write's fault: on
PostgreSQL the group is retried once whole on a new connection, then (on SQLite at once) every
write fails with that ``OperationalError`` (nothing was committed; the gateway answers 503). A
write whose outcome is unknown (the connection lost during its autocommitted statement or its
COMMIT) is not retried: it fails as ``LogUnavailable``, as when this process dies, and the gateway
fails its row if it is there.
The process ends when the hub closes its end of the socket (or dies).
"""

from __future__ import annotations

import contextlib
import pickle
import signal
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError, StatementError
from sqlalchemy.orm import Session

from hub.db.base import utcnow
from hub.db.session import Database, Prepared
from hub.errors import HubError
from hub.outbox.service import DeliverySpec, enqueue
from hub.transactions import service as transactions
from hub.transactions.models import Status

MAX_GROUP = 500
READ_BYTES = 1 << 20
_LENGTH = struct.Struct("!I")


@dataclass(slots=True)
class Close:
    """A request's outcome: written with its outbox deliveries in one DB transaction."""

    transaction_id: int
    closing: transactions.Closing
    started: int  # the open's start time, as the writer answered it: micros()
    deliveries: list[DeliverySpec]


Write = transactions.Opening | Close
# what a write gave: (an open's (id, start time in micros()) or None for a close, None) or (None, the error)
Outcome = tuple[Any, Exception | None]


def bare(close: Close, error: Exception) -> Close:
    """``close`` with only what the database cannot refuse: its status (and whether a mediator
    reported it), HTTP status and deliveries, and an error naming ``error``'s class (its
    parameters can hold patient data)."""
    closing = close.closing
    message = (
        f"the hub could not store this transaction's outcome in full ({type(error).__name__}); "
        "its response, orchestrations, properties and mediator were left out"
    )
    kept = transactions.Closing(
        closing.status,
        closing.response_status,
        None,
        None,
        [],
        {},
        error={"message": message},
        status_reported=closing.status_reported,
    )
    return Close(close.transaction_id, kept, close.started, close.deliveries)


# -- frames: a length, then a pickle of plain tuples ----------------------------------------------------
# Only the hub and its own writer process hold the two ends of the socket (a socketpair), so
# unpickling what arrives is safe. Writes travel as tuples of their fields: pickling a slotted
# dataclass or an enum runs Python code, and this runs in the event loop for every request.

_opening_fields = attrgetter(*transactions.Opening.__slots__)
_closing_fields = attrgetter(*transactions.Closing.__slots__[1:])


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """``moment`` as whole microseconds since the epoch: an aware datetime takes ~7 µs to pickle."""
    return (moment - _EPOCH) // _MICROSECOND


def encode(write: Write) -> tuple[Any, ...]:
    if isinstance(write, transactions.Opening):
        return _opening_fields(write)
    closing = write.closing
    status = closing.status.value
    return (write.transaction_id, write.started, status, _closing_fields(closing), write.deliveries)


def decode(fields: tuple[Any, ...]) -> Write:
    if len(fields) == len(transactions.Opening.__slots__):  # a close has 5
        return transactions.Opening(*fields)
    transaction_id, started, status, rest, deliveries = fields
    closing = transactions.Closing(Status(status), *rest)
    return Close(transaction_id, closing, started, deliveries)


def frame(message: Any) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(body)) + body


class Frames:
    """Reassembles the messages of a byte stream cut anywhere."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[Any]:
        buffer = self._buffer
        buffer += data
        start = 0
        while len(buffer) - start >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(buffer, start)
            end = start + _LENGTH.size + size
            if len(buffer) < end:
                break
            body = buffer[start + _LENGTH.size : end]
            yield pickle.loads(body)  # noqa: S301 (see above: only the hub's own processes write here)
            start = end
        del buffer[:start]


class LogUnavailable(HubError):
    """A write whose outcome is unknown: the writer process stopped, or lost its database connection,
    before confirming it. It may have been committed or not (the gateway fails its row if it is
    there: ``pipeline._fail_unconfirmed``)."""

    status = 503
    title = "Transaction log unavailable"


def unconfirmed(error: Exception) -> LogUnavailable:
    """A write that ``error`` (a lost connection, a failed COMMIT) left unconfirmed; only the
    class of ``error`` is kept: its text can quote the rows' values."""
    return LogUnavailable(
        f"the transaction log lost its database connection before confirming this write "
        f"({type(error).__name__})"
    )


def portable(error: Exception) -> Exception:
    """``error`` made fit to cross to the hub's process: without the statement's parameters (the
    rows' values, bodies and patient data among them, which the hub must not log), or else a
    RuntimeError that says what it was."""
    if isinstance(error, StatementError):
        error.params, error.hide_parameters = None, True
    try:
        pickle.dumps(error)
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


# -- committing -----------------------------------------------------------------------------------------


def _discard(connection: Connection | None) -> None:
    """Drop a connection after an error: the raw cursor's errors bypass SQLAlchemy's disconnect
    handling, so a broken connection would otherwise be used again."""
    if connection is not None:
        with contextlib.suppress(Exception):
            connection.invalidate()
        connection.close()


@contextlib.contextmanager
def _autocommit(connection: Connection) -> Iterator[None]:
    """The block in autocommit. A connection lost meanwhile refuses the switch back too: that
    error must not hide the block's own, which says whether its statement may have committed
    (an ``OperationalError``: unknown, so not retried); after a block that succeeded, the statement
    stands and the connection is invalidated, to be replaced at its next use."""
    raw = connection.connection.dbapi_connection
    raw.autocommit = True
    succeeded = False
    try:
        yield
        succeeded = True
    finally:
        try:
            raw.autocommit = False
        except Exception:
            if succeeded:
                connection.invalidate()


class GroupCommitter:
    """Commits groups of writes on one connection, kept from group to group (no pool checkout,
    pre-ping or reset per group). Its opens record ``instance``, the hub process they belong to."""

    def __init__(self, db: Database, instance: str) -> None:
        self.db = db
        self.instance = instance
        self._open = Prepared(transactions.OPEN, db.engine, transactions.OPEN_COLUMNS)
        self._close = Prepared(transactions.CLOSE, db.engine, transactions.CLOSE_COLUMNS)
        self._connection: Connection | None = None
        self.commits = 0  # DB transactions begun, retries included

    def commit(
        self, group: list[Write], *, bare_retry: bool = True, retry_group: bool = True
    ) -> list[Outcome]:
        """Commit ``group`` in one DB transaction; each write's outcome, in order.

        A statement that fails rolls the group back and each write is retried alone (a close
        refused alone, once more :func:`bare`). An ``OperationalError`` before COMMIT (the database
        locked or unreachable: no write's fault, and nothing committed) fails every write with it,
        on PostgreSQL once the group retried whole (``retry_group``) on a new connection has failed
        too: retried alone, each would wait for the database again. A failed COMMIT is not
        retried, as it may have committed: every write of the group fails :func:`unconfirmed`.
        """
        self.commits += 1
        if self.db.dialect == "postgresql" and not any(isinstance(w, Close) and w.deliveries for w in group):
            outcomes = self._commit_one_statement(group, bare_retry)
            if outcomes is not None:
                return outcomes
        try:
            connection = self._connection = self._connection or self.db.engine.connect()
            transaction = connection.begin()
            try:
                results = self._apply(connection, group)
            except Exception:
                transaction.rollback()
                raise
        except Exception as exc:
            self._drop()
            if isinstance(exc, OperationalError):
                # a kept PostgreSQL connection may have been lost meanwhile; SQLite has waited its
                # busy_timeout already, and waiting again would only double the clients' wait
                if retry_group and self.db.dialect == "postgresql":
                    return self.commit(group, bare_retry=bare_retry, retry_group=False)
                return [(None, exc)] * len(group)
            if len(group) == 1:
                return self._failed_alone(group[0], exc, bare_retry)
            return [outcome for write in group for outcome in self.commit([write])]
        try:
            transaction.commit()
        except Exception as exc:
            self._drop()
            return [(None, unconfirmed(exc))] * len(group)
        return [(r, None) for r in results]

    def _commit_one_statement(self, group: list[Write], bare_retry: bool) -> list[Outcome] | None:
        """PostgreSQL, no deliveries: the group as one autocommitted statement (one round trip
        instead of three); None when it is too big for one. A statement refused is not committed,
        so each write is retried alone; a lost connection leaves the outcome unknown, so then
        every write of the group fails :func:`unconfirmed` (retrying could log a request twice)."""
        try:
            connection = self._connection = self._connection or self.db.engine.connect()
        except Exception as exc:  # nothing was sent
            return [(None, exc)] * len(group)
        try:
            now = utcnow()
            opens, closes = self._parameters(group, now)
            with _autocommit(connection):
                ids = self._open.insert_after_update(connection, opens, self._close, closes)
        except Exception as exc:
            self._drop()
            if isinstance(exc, OperationalError):
                return [(None, unconfirmed(exc))] * len(group)
            if len(group) == 1:
                return self._failed_alone(group[0], exc, bare_retry)
            return [outcome for write in group for outcome in self.commit([write])]
        return None if ids is None else [(r, None) for r in _results(group, ids, now)]

    def _failed_alone(self, write: Write, error: Exception, bare_retry: bool) -> list[Outcome]:
        """A write the database refused alone (an ``OperationalError``, the database unavailable,
        is no refusal and never gets here). A close is retried once bare, so that its transaction
        does not stay Processing."""
        if bare_retry and isinstance(write, Close):
            [(result, retry_error)] = self.commit([bare(write, error)], bare_retry=False)
            if retry_error is None:
                return [(result, None)]
        return [(None, error)]

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _drop(self) -> None:
        _discard(self._connection)
        self._connection = None

    def _parameters(self, writes: list[Write], now: datetime) -> tuple[list[list[Any]], list[list[Any]]]:
        """The parameters of the group's opens and of its closes."""
        opens = self._open.rows(
            (transactions.opening_values(w) for w in writes if isinstance(w, transactions.Opening)),
            transactions.opening_shared(now, self.instance),
        )
        finished = micros(now)
        closes = self._close.rows(
            (
                transactions.closing_values(w.transaction_id, w.closing, (finished - w.started) / 1000)
                for w in writes
                if isinstance(w, Close)
            ),
            transactions.closing_shared(now),
        )
        return opens, closes

    def _apply(self, connection: Connection, writes: list[Write]) -> list[Any]:
        now = utcnow()
        opens, closes = self._parameters(writes, now)
        ids = self._open.insert_many(connection, opens) if opens else []
        if closes:
            self._close.update_many(connection, closes)
            queued = [w for w in writes if isinstance(w, Close) and w.deliveries]
            if queued:
                # A session joined to the connection's transaction: the group's commit covers it.
                with Session(bind=connection) as session:
                    for c in queued:
                        enqueue(session, transaction_id=c.transaction_id, deliveries=c.deliveries)
        return _results(writes, ids, now)


def _results(writes: list[Write], ids: list[int], now: datetime) -> list[Any]:
    """Each write's result: an open's (id, start time in micros()), None for a close."""
    opened = iter(ids)
    started = micros(now)
    return [(next(opened), started) if isinstance(w, transactions.Opening) else None for w in writes]


# -- the process ----------------------------------------------------------------------------------------


def _commit_frames(committer: GroupCommitter, writes: list[tuple[int, Any]], most: int) -> Any:
    """Commit writes, in groups of at most ``most``; the answer to send back:
    ``([(sequence number, result, error), …], DB transactions begun)``."""
    before = committer.commits
    answers = []
    for start in range(0, len(writes), most):
        group = writes[start : start + most]
        outcomes = committer.commit([decode(w) for _, w in group])
        answers += [
            (seq, result, None if error is None else portable(error))
            for (seq, _), (result, error) in zip(group, outcomes, strict=True)
        ]
    return answers, committer.commits - before


def writer_database(url: str) -> Database:
    """The writer's database: positional parameters, which :class:`Prepared`'s multi-row
    statements are built with (SQLite's are already; psycopg's ``format`` style otherwise)."""
    return Database(url, **({} if url.startswith("sqlite") else {"paramstyle": "format"}))


def serve(url: str, instance: str, channel: socket.socket, max_group: int = MAX_GROUP) -> None:
    """The writer process of the hub process ``instance``: commit the writes of every frame
    waiting as one group, and answer."""
    # Ctrl-C reaches the whole process group; the hub stops first, then closes the socket.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    db = writer_database(url)
    committer = GroupCommitter(db, instance)
    frames = Frames()
    try:
        while data := channel.recv(READ_BYTES):
            merged = [write for writes in frames.feed(data) for write in writes]
            if merged:  # else the frame is not whole yet
                channel.sendall(frame(_commit_frames(committer, merged, max_group)))
    except OSError:  # the hub has gone: nobody waits for answers
        pass
    finally:
        committer.close()
        db.dispose()
        channel.close()
