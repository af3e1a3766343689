"""Writes over many rows, a batch at a time, each batch its own DB transaction.

A retention run over a year of log, or a retry of every dead delivery, would otherwise be one
DB transaction: on SQLite it would hold the write lock (and stall the gateway's log writer) to
the end; on PostgreSQL, its rows' locks. Batches are walked by ascending key (keyset paging, not
OFFSET), and what a run did before it stopped stays done: run it again for the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import ColumnElement, Executable, Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

BATCH = 1000


def committed_batches(
    session: Session, ids: Select[tuple[int]], key: InstrumentedAttribute[Any], size: int
) -> Iterator[list[int]]:
    """The keys ``ids`` selects, ``size`` at a time in ascending order; the session commits once the
    caller has written each batch."""
    query = ids.order_by(key).limit(size)
    after: int | None = None
    while batch := list(session.scalars(query if after is None else query.where(key > after))):
        yield batch
        session.commit()
        after = batch[-1]


def in_batches(
    session: Session,
    key: InstrumentedAttribute[Any],
    where: list[ColumnElement[bool]],
    statement: Callable[[ColumnElement[bool]], Executable],
    size: int | None = None,
) -> int:
    """Run ``statement(chosen)`` on the rows matching ``where``, ``chosen`` being ``key IN`` a batch of
    them (the statement repeats ``where``, as a row may have changed since it was chosen); the
    rows it affected in all. ``size``: ``BATCH`` unless given."""
    done = 0
    for batch in committed_batches(session, select(key).where(*where), key, size or BATCH):
        result: Any = session.execute(statement(key.in_(batch)))
        done += result.rowcount or 0
    return done
