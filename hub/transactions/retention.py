"""Retention: cull bodies after ``body_cull_after_days``, purge rows after ``purge_after_days``.

Both steps cover the transaction log and the outbox's settled deliveries (delivered, failed, dead);
a pending or in-flight delivery is still owed and keeps its body and its row whatever its age.
The purge also takes finished rerun tasks (Completed, Cancelled) with their items, a batch at a
time; a Queued, Processing or Paused task, or one with reruns still in flight, stays whatever its age.
Every run also deletes the lockout counters that count no more (``hub.auth.service``), whatever the
ages. Every step goes a batch at a time, each committed (``hub.db.batches``): a first run over a long
backlog never holds SQLite's write lock, which the gateway's log writer needs, for long. Each body
cull finds its rows through a partial index of those it has yet to cull (``ix_transactions_unculled``,
``ix_deliveries_unculled``, migration 0019), never reading the rows culled before.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hub.auth.service import purge_expired_lockouts
from hub.db.base import utcnow
from hub.db.batches import in_batches
from hub.outbox import service as outbox
from hub.periodic import repeat
from hub.runtime import Runtime
from hub.settings import Settings
from hub.tasks.models import ItemStatus, RerunTask, RerunTaskItem, TaskStatus
from hub.transactions import service as transactions

log = logging.getLogger("hub.retention")

INTERVAL_S = 3600.0
FINISHED_TASKS = (TaskStatus.COMPLETED, TaskStatus.CANCELLED)
# rerun tasks deleted per statement; a task has up to 10,000 items (hub.tasks.schemas.MAX_ITEMS)
TASK_PURGE_BATCH = 100


@dataclass(frozen=True, slots=True)
class Retained:
    """What one run removed."""

    bodies_culled: int = 0
    transactions_purged: int = 0
    delivery_bodies_culled: int = 0
    deliveries_purged: int = 0
    tasks_purged: int = 0
    lockouts_purged: int = 0


def apply(session: Session, settings: Settings, *, now: datetime | None = None) -> Retained:
    """Cull and purge for the configured ages; ``None`` ages switch a step off."""
    window = timedelta(seconds=settings.auth_lockout_s)
    retained = Retained(lockouts_purged=purge_expired_lockouts(session, window=window, now=now))
    if settings.body_cull_after_days is not None:
        age = timedelta(days=settings.body_cull_after_days)
        retained = replace(
            retained,
            bodies_culled=transactions.cull_bodies(session, older_than=age, now=now),
            delivery_bodies_culled=outbox.cull_bodies(session, older_than=age, now=now),
        )
    if settings.purge_after_days is not None:
        age = timedelta(days=settings.purge_after_days)
        # deliveries first: a purged transaction would otherwise update each of them (ON DELETE SET NULL)
        deliveries_purged = outbox.purge(session, older_than=age, now=now)
        retained = replace(
            retained,
            deliveries_purged=deliveries_purged,
            transactions_purged=transactions.purge(session, older_than=age, now=now),
            tasks_purged=_purge_tasks(session, older_than=age, now=now),
        )
    return retained


def _purge_tasks(session: Session, *, older_than: timedelta, now: datetime | None) -> int:
    """Delete finished rerun tasks older than ``now - older_than``, ``TASK_PURGE_BATCH`` at a time;
    their items go with them (ON DELETE CASCADE). A task's age runs from its completion, or from its
    creation when it has none (a Cancelled task). One whose reruns are still in flight stays: the
    runner records their outcomes on it."""
    cutoff = (now or utcnow()) - older_than
    in_flight = (
        select(RerunTaskItem.id)
        .where(RerunTaskItem.task_id == RerunTask.id, RerunTaskItem.status == ItemStatus.PROCESSING)
        .exists()
    )
    where = [
        RerunTask.status.in_(FINISHED_TASKS),
        func.coalesce(RerunTask.completed_at, RerunTask.created_at) < cutoff,
        ~in_flight,
    ]
    # the status again: on PostgreSQL an admin may queue a Cancelled task again meanwhile
    return in_batches(
        session, RerunTask.id, where, lambda chosen: delete(RerunTask).where(chosen, *where), TASK_PURGE_BATCH
    )


def _run(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        retained = apply(session, runtime.settings)
    if any(asdict(retained).values()):
        log.info("retention applied", extra=asdict(retained))


async def run_periodically(runtime: Runtime) -> None:
    """Apply retention now and then every hour."""
    await repeat(lambda: _run(runtime), INTERVAL_S, log=log, what="retention run", now=True)
