"""The transaction log writer as the gateway sees it: ``open`` and ``close`` await their commit.

The commits happen in a writer process (``hub.gateway.log_process``), so the event loop's
process only pickles each turn's writes into one frame and reads the answers back: a request
still calls upstream only after its Processing row is committed, and a close still commits
together with its outbox deliveries.

request ─open─▶ turn's frame ─socket─▶ writer process: INSERT (group) ─ COMMIT ─▶ answer ─▶ upstream
request ─close─▶ turn's frame ─socket─▶ writer process: UPDATE + deliveries ─ COMMIT ─▶ answer

The process is started with the hub (``start()``, or on the first write) from a fork server
that has already imported it. Should it die, the writes it had not answered fail with
:class:`LogUnavailable` (their requests get a 503, and nothing was forwarded for an open that
failed) and the next write starts a new one.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import threading
from itertools import count
from multiprocessing.process import BaseProcess
from typing import Any, cast

from hub.db.session import Database
from hub.gateway import log_process
from hub.gateway.log_process import Close, Frames, LogUnavailable, Write, encode, frame
from hub.outbox.service import DeliverySpec
from hub.transactions import service as transactions

STOP_WAIT_S = 10.0


def _context() -> multiprocessing.context.BaseContext:
    """A fork server that imported the writer process's code once: starting a writer then takes
    a fork, not a fresh interpreter (and the hub's own threads and connections are not copied)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([log_process.__name__])
    return context


class _Link(asyncio.Protocol):
    """One event loop's connection to the writer process."""

    def __init__(self, loop: asyncio.AbstractEventLoop, writer: LogWriter) -> None:
        self.loop = loop
        self.writer = writer
        self.connected: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.outgoing: list[tuple[int, tuple[Any, ...]]] = []
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.frames = Frames()
        self.lost = False

    def send(self, sequence: int, write: Write, future: asyncio.Future[Any]) -> None:
        """Queue ``write`` for the next frame: see :meth:`flush`."""
        self.waiting[sequence] = future
        if not self.outgoing:
            self.loop.call_soon(self.flush)
        self.outgoing.append((sequence, encode(write)))

    def flush(self) -> None:
        """Send what this turn of the loop queued as one frame."""
        if self.transport is None or not self.outgoing:  # connection_made flushes
            return
        batch, self.outgoing = self.outgoing, []
        # the connection may have gone since these writes were queued: connection_lost failed them
        if not self.lost:
            self.transport.write(frame(batch))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.connected.set_result(None)
        self.flush()

    def data_received(self, data: bytes) -> None:
        waiting = self.waiting
        for answers, commits in self.frames.feed(data):
            self.writer.commits += commits
            for sequence, result, error in answers:
                future = waiting.pop(sequence)
                if future.done():  # the request was cancelled; its write is committed all the same
                    continue
                if error is None:
                    future.set_result(result)
                else:
                    future.set_exception(error)

    def failed(self, connecting: asyncio.Task[Any]) -> None:
        """The connection could not be made: fail the writes queued for it."""
        if not connecting.cancelled() and connecting.exception() is not None:
            self.connection_lost(connecting.exception())

    def close(self) -> None:
        """Close the connection, from any thread: the process sees its end once the frames sent
        so far are read."""
        assert self.transport is not None
        try:
            here = asyncio.get_running_loop() is self.loop
        except RuntimeError:
            here = False
        if here:
            self.transport.close()
        else:
            self.loop.call_soon_threadsafe(self.transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.connected.done():
            self.connected.set_exception(LogUnavailable("could not connect to the log writer process"))
        error = LogUnavailable("the transaction log writer stopped before confirming this write")
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(error)
        self.waiting.clear()


class LogWriter:
    """Used from one event loop at a time (a new loop gets a new writer process). ``stop()``, at
    shutdown after the last request, lets the process commit what it was sent and end."""

    def __init__(self, db: Database, instance: str, *, max_group: int = log_process.MAX_GROUP) -> None:
        self.url = db.url
        self.instance = instance  # the hub process the rows it opens belong to (hub.instances)
        self.max_group = max_group
        self.commits = 0  # DB transactions the writer process has begun, retries included
        # Requests (request id and client) whose row a write left unconfirmed may have left
        # Processing, and that the hub could not fail at once (the database unreachable): every
        # heartbeat tries again (hub.gateway.pipeline.fail_unconfirmed). The event loop adds and a
        # heartbeat thread removes, each in one call on the set, which the GIL keeps whole.
        self.unconfirmed: set[transactions.ClientRequest] = set()
        self._sequence = count()
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._socket: socket.socket | None = None  # ours, until a link's transport takes it
        self._link: _Link | None = None

    def start(self) -> None:
        """Start the writer process (blocking; idempotent)."""
        with self._lock:
            if self._process is not None and self._process.is_alive():
                return
            ours, theirs = socket.socketpair()
            process = _context().Process(
                target=log_process.serve,
                args=(self.url, self.instance, theirs, self.max_group),
                name="hub-log-writer",
                daemon=True,
            )
            process.start()
            theirs.close()  # the process holds the only other end: either side's exit shows up as EOF
            self._process, self._socket = process, ours

    async def open(self, opening: transactions.Opening) -> tuple[int, int]:
        """Commit the Processing row; its id and start time, in microseconds since the epoch
        (``log_process.micros``), which :meth:`close` takes back."""
        opened: tuple[int, int] = await self._submit(opening)
        return opened

    async def close(
        self,
        transaction_id: int,
        closing: transactions.Closing,
        started: int,
        deliveries: list[DeliverySpec],
    ) -> None:
        """Commit the outcome and the outbox deliveries in one DB transaction."""
        await self._submit(Close(transaction_id, closing, started, deliveries))

    def stop(self) -> None:
        """Close the connection and wait for the process to commit what it was sent and end.

        When nothing was ever sent (no link), or the link's event loop has already closed (nobody
        can be waiting for a write any more), the process is terminated instead.
        """
        with self._lock:
            link, self._link = self._link, None
            process, self._process = self._process, None
            sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()
        graceful = link is not None and link.transport is not None and not link.loop.is_closed()
        if graceful:
            link.close()
        if process is None:
            return
        if not graceful:
            process.terminate()
        process.join(STOP_WAIT_S)
        if process.is_alive():
            process.kill()
            process.join()

    async def _submit(self, write: Write) -> Any:
        loop = asyncio.get_running_loop()
        link = self._link
        if link is None or link.lost or link.loop is not loop:
            link = self._connect(loop)
        future = loop.create_future()
        link.send(next(self._sequence), write, future)
        return await future

    def _connect(self, loop: asyncio.AbstractEventLoop) -> _Link:
        """A link for ``loop`` to a running writer process (a new one if the last link was lost or
        belonged to another loop)."""
        if self._link is not None:
            self.stop()
        self.start()
        with self._lock:
            sock, self._socket = self._socket, None
            assert sock is not None
            link = self._link = _Link(loop, self)
        loop.create_task(loop.create_unix_connection(lambda: link, sock=sock)).add_done_callback(link.failed)
        return link
