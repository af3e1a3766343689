"""Stores validated chunks: in the caller's thread for small payloads, in a writer process for big ones.

A big import is CPU-bound on both sides, parsing and validating in Python on one, the database
driver's per-row work on the other. A writer *thread* cannot overlap them: the GIL serialises the
two, and SQLite's driver retakes it for every row. A separate process gets the second core; the
chunks reach it through a bounded queue (at most :data:`QUEUED` waiting, so memory stays flat).

Either way each chunk is one DB transaction that stores its values and enqueues its deliveries
together, so a crash at any point never leaves a stored value without its delivery.
"""

from __future__ import annotations

import multiprocessing
import queue
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from hub.db.base import utcnow
from hub.db.session import Database
from hub.dhis2.datavalues import store
from hub.dhis2.datavalues.summary import ImportCount
from hub.dhis2.datavalues.validation import Row
from hub.outbox.service import DeliverySpec, enqueue

QUEUED = 2
POLL_S = 1.0  # how often a blocked side checks that the other one is still alive


@dataclass(frozen=True, slots=True)
class Job:
    """What storing a chunk needs besides its rows; picklable, for the writer process."""

    url: str
    client: str
    transaction_id: int
    strategy: str
    dry_run: bool
    min_max: bool
    check_existing: bool = True


class WriterFailed(RuntimeError):
    """The writer process raised (its traceback is the message) or died."""


def write_chunk(db: Database, job: Job, rows: list[Row], specs: list[DeliverySpec]) -> ImportCount:
    """Store one chunk and enqueue its deliveries in one DB transaction (a dry run rolls back)."""
    with db.session() as session:
        count = store.write(
            session,
            rows=rows,
            strategy=job.strategy,
            client=job.client,
            transaction_id=job.transaction_id,
            now=utcnow(),
            min_max=job.min_max,
            check_existing=job.check_existing,
        )
        if job.dry_run:
            session.rollback()
        else:
            enqueue(session, transaction_id=job.transaction_id, deliveries=specs)
    return count


class InlineWriter:
    """Writes each chunk at once, in the caller's thread and through the caller's engine."""

    def __init__(self, db: Database, job: Job) -> None:
        self.db, self.job = db, job

    def write(self, rows: list[Row], specs: list[DeliverySpec]) -> list[ImportCount]:
        return [write_chunk(self.db, self.job, rows, specs)]

    def close(self) -> list[ImportCount]:
        return []


class ProcessWriter:
    """Hands chunks to a writer process; ``write`` and ``close`` return the counts finished so far."""

    def __init__(self, job: Job) -> None:
        # spawn, not fork: the hub process has threads and open DB connections a fork would copy
        context = multiprocessing.get_context("spawn")
        self._chunks: Any = context.Queue(maxsize=QUEUED)
        self._results, results = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_serve, args=(job, self._chunks, results), name="dhis2-import-writer", daemon=True
        )
        self._process.start()
        results.close()  # the child holds the only sending end: its exit shows up as EOF
        self._waiting = 0
        self._failed = False

    def write(self, rows: list[Row], specs: list[DeliverySpec]) -> list[ImportCount]:
        self._put((rows, specs))
        self._waiting += 1
        return self._collect(block=False)

    def close(self) -> list[ImportCount]:
        """Wait for every chunk handed over so far; the process then ends."""
        try:
            if self._failed:  # already raised: nothing more will come
                return []
            self._put(None)
            counts = self._collect(block=True)
            self._process.join()
            return counts
        finally:
            if self._process.is_alive():
                self._process.kill()
            self._chunks.close()
            self._chunks.cancel_join_thread()  # a dead writer never reads what is still queued
            self._results.close()

    def _put(self, item: tuple[list[Row], list[DeliverySpec]] | None) -> None:
        while True:
            try:
                self._chunks.put(item, timeout=POLL_S)
                return
            except queue.Full:
                if self._results.poll() or not self._process.is_alive():
                    self._collect(block=False)  # raises the writer's failure
                    self._failed = True
                    raise WriterFailed("the data value writer process stopped") from None

    def _collect(self, *, block: bool) -> list[ImportCount]:
        counts = []
        while self._waiting and (block or self._results.poll()):
            try:
                result = self._results.recv()
            except EOFError:
                result = WriterFailed("the data value writer process stopped")
            if isinstance(result, WriterFailed):
                self._failed = True
                raise result
            counts.append(result)
            self._waiting -= 1
        return counts


def _serve(job: Job, chunks: Any, results: Connection) -> None:
    """The writer process: store chunks in order until told to stop, answering with their counts."""
    db = Database(job.url)
    try:
        while (item := _next(chunks)) is not None:
            results.send(write_chunk(db, job, *item))
    except BaseException:  # the parent re-raises it: tracebacks do not cross processes
        results.send(WriterFailed(traceback.format_exc()))
    finally:
        db.dispose()


def _next(chunks: Any) -> tuple[list[Row], list[DeliverySpec]] | None:
    """The next chunk; None when told to stop, or when the importing process has gone."""
    parent = multiprocessing.parent_process()
    while True:
        try:
            item: tuple[list[Row], list[DeliverySpec]] | None = chunks.get(timeout=POLL_S)
            return item
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return None
