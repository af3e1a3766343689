"""A rerun task's batch whose outcomes the database will not save never leaves its items (and so its
task, and every task after it) Processing: the reruns happened, so they are recorded as Failed, each
with its child, or the save is tried again until the database is back. Never rerun twice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError

from hub.db.session import Database
from hub.gateway.rerun import Outcome
from hub.settings import Settings
from hub.tasks import runner, service
from hub.tasks.models import ItemStatus, RerunTask, RerunTaskItem, TaskStatus
from hub.transactions.models import Status
from tests.outbox.support import transaction

REFUSED = "transaction cannot be rerun: a value the database refuses"
CHILD = 9000  # a rerun's child is CHILD + its original's id


@pytest.fixture
def rerun(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The transactions rerun, in order; the first is refused, the others make a child."""
    done: list[int] = []

    async def outcome(_runtime: Any, transaction_id: int) -> Outcome:
        done.append(transaction_id)
        if len(done) == 1:
            return Outcome(error=REFUSED)
        return Outcome(CHILD + transaction_id, Status.SUCCESSFUL.value)

    monkeypatch.setattr(runner, "rerun_outcome", outcome)
    return done


def failing_records(monkeypatch: pytest.MonkeyPatch, refuses: Callable[[int, dict[str, Any]], bool]) -> None:
    """``service.record`` raises a database error on each call (its number, from 1, and its values)
    that ``refuses``."""
    record = service.record
    calls = 0

    def flaky(session: Any, item_id: int, **values: Any) -> None:
        nonlocal calls
        calls += 1
        if refuses(calls, values):
            raise OperationalError("UPDATE rerun_task_items …", {}, Exception("server closed the connection"))
        record(session, item_id, **values)

    monkeypatch.setattr(service, "record", flaky)


def run_task(db: Database, settings: Settings) -> tuple[list[int], RerunTask | None, list[RerunTaskItem]]:
    """A task of three transactions in one batch, run by the runner; the ids, the task (None once
    deleted) and its items."""
    ids = [transaction(db, Status.FAILED) for _ in range(3)]
    with db.session() as session:
        task_id = service.create(session, ids, batch_size=5, paused=False, created_by="test").id
    runtime: Any = SimpleNamespace(db=db, settings=settings.model_copy(update={"rerun_task_poll_s": 0.01}))

    assert asyncio.run(asyncio.wait_for(runner.run_batch(runtime), timeout=10))

    with db.session() as session:
        task = session.get(RerunTask, task_id)
        items = list(session.scalars(select(RerunTaskItem).order_by(RerunTaskItem.position)))
        session.expunge_all()
    return ids, task, items


def test_outcomes_the_database_refuses_are_recorded_as_failed_with_their_children(
    db: Database, settings: Settings, rerun: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    failing_records(monkeypatch, lambda _, values: values["error"] == REFUSED)

    ids, task, items = run_task(db, settings)

    assert task.status == TaskStatus.COMPLETED
    assert [(i.status, i.child_id, i.rerun_status, i.error) for i in items] == [
        (ItemStatus.FAILED, None, None, runner.UNRECORDED),
        (ItemStatus.FAILED, CHILD + ids[1], Status.SUCCESSFUL, runner.UNRECORDED),
        (ItemStatus.FAILED, CHILD + ids[2], Status.SUCCESSFUL, runner.UNRECORDED),
    ]
    assert rerun == ids, "each rerun once"


def test_outcomes_are_saved_once_the_database_is_back(
    db: Database, settings: Settings, rerun: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    failing_records(monkeypatch, lambda call, _: call <= 2)  # the first save and its fallback

    ids, task, items = run_task(db, settings)

    assert task.status == TaskStatus.COMPLETED
    assert [(i.status, i.child_id, i.rerun_status, i.error) for i in items] == [
        (ItemStatus.FAILED, None, None, REFUSED),
        (ItemStatus.COMPLETED, CHILD + ids[1], Status.SUCCESSFUL, None),
        (ItemStatus.COMPLETED, CHILD + ids[2], Status.SUCCESSFUL, None),
    ]
    assert rerun == ids, "each rerun once"


def test_a_task_deleted_while_its_batch_was_in_flight_ends_the_save(
    db: Database, settings: Settings, rerun: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As when a replica thought silent had its items taken over, and an admin then deleted the task."""
    record = service.record

    def after_removal(session: Any, item_id: int, **values: Any) -> None:
        session.execute(delete(RerunTask))  # its items go with it (ON DELETE CASCADE)
        record(session, item_id, **values)

    monkeypatch.setattr(service, "record", after_removal)

    _, task, items = run_task(db, settings)

    assert (task, items) == (None, [])
