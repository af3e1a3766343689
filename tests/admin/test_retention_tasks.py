"""Retention's purge takes finished rerun tasks (Completed, Cancelled) past the purge age with their
items, a batch at a time; a task that may still run (Queued, Processing, Paused), one with reruns in
flight, and a recent one stay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from hub.db.base import utcnow
from hub.db.session import Database
from hub.settings import Settings
from hub.tasks.models import ItemStatus, RerunTask, RerunTaskItem, TaskStatus
from hub.transactions import retention

PURGE_DAYS = 365
OLD, RECENT = timedelta(days=400), timedelta(days=1)


def task(
    db: Database,
    status: TaskStatus,
    *,
    created: datetime,
    completed: datetime | None = None,
    items: tuple[ItemStatus, ...] = (ItemStatus.COMPLETED, ItemStatus.FAILED),
) -> int:
    """A rerun task as the runner and the admin API leave it; returns its id."""
    with db.session() as session:
        row = RerunTask(
            status=status,
            batch_size=10,
            created_by="admin@hub.test",
            created_at=created,
            completed_at=completed,
        )
        session.add(row)
        session.flush()
        session.add_all(
            RerunTaskItem(task_id=row.id, position=n, transaction_id=1000 + n, status=s)
            for n, s in enumerate(items)
        )
        return row.id


def settings(db: Database, purge_after_days: float | None = PURGE_DAYS) -> Settings:
    return Settings(
        env="test", database_url=db.url, body_cull_after_days=None, purge_after_days=purge_after_days
    )


def left(db: Database) -> tuple[set[int], set[int]]:
    """The ids of the tasks left, and of the tasks that items are left of."""
    with db.session() as session:
        return set(session.scalars(select(RerunTask.id))), set(session.scalars(select(RerunTaskItem.task_id)))


def test_old_finished_tasks_go_with_their_items_and_the_others_stay(db: Database) -> None:
    now = utcnow()
    completed = task(db, TaskStatus.COMPLETED, created=now - OLD, completed=now - OLD)
    cancelled = task(db, TaskStatus.CANCELLED, created=now - OLD, items=(ItemStatus.QUEUED,))
    kept = {
        task(db, TaskStatus.QUEUED, created=now - OLD, items=(ItemStatus.QUEUED,)),
        task(db, TaskStatus.PROCESSING, created=now - OLD, items=(ItemStatus.PROCESSING, ItemStatus.QUEUED)),
        task(db, TaskStatus.PAUSED, created=now - OLD, items=(ItemStatus.COMPLETED, ItemStatus.QUEUED)),
        # its age runs from its completion, not from its creation
        task(db, TaskStatus.COMPLETED, created=now - OLD, completed=now - RECENT),
        task(db, TaskStatus.CANCELLED, created=now - RECENT, items=(ItemStatus.QUEUED,)),
        # cancelled with a batch in flight: the runner still records its outcomes on the task
        task(db, TaskStatus.CANCELLED, created=now - OLD, items=(ItemStatus.PROCESSING, ItemStatus.QUEUED)),
    }

    with db.session() as session:
        first = retention.apply(session, settings(db), now=now)
        # a second run an instant later finds nothing new: the cutoff comes from the age, not the last run
        second = retention.apply(session, settings(db), now=now + timedelta(seconds=1))

    assert first == retention.Retained(tasks_purged=2)
    assert second == retention.Retained()
    tasks, with_items = left(db)
    assert tasks == kept and with_items == kept, f"{completed} and {cancelled} should be gone, items too"


def test_the_purge_deletes_a_batch_at_a_time_until_none_is_left(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "TASK_PURGE_BATCH", 2)
    now = utcnow()
    for _ in range(5):
        task(db, TaskStatus.COMPLETED, created=now - OLD, completed=now - OLD)
    paused = task(db, TaskStatus.PAUSED, created=now - OLD)

    with db.session() as session:
        assert retention.apply(session, settings(db), now=now) == retention.Retained(tasks_purged=5)
    assert left(db) == ({paused}, {paused})


def test_a_purge_age_of_none_keeps_every_task(db: Database) -> None:
    now = utcnow()
    old = task(db, TaskStatus.COMPLETED, created=now - OLD, completed=now - OLD)

    with db.session() as session:
        assert retention.apply(session, settings(db, None), now=now) == retention.Retained()
    assert left(db) == ({old}, {old})


def test_hub_transactions_retain_prints_the_tasks_purged(db: Database, hub_cli: Callable[..., str]) -> None:
    now = utcnow()
    task(db, TaskStatus.COMPLETED, created=now - OLD, completed=now - OLD)
    queued = task(db, TaskStatus.QUEUED, created=now - OLD, items=(ItemStatus.QUEUED,))

    printed = " ".join(hub_cli("transactions", "retain").split())  # as the console may wrap it
    assert printed.endswith("0 deliveries purged; 1 rerun tasks purged"), printed
    assert left(db) == ({queued}, {queued})
