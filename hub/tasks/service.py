"""Rerun task rules: create, list, change state, claim a batch, record each outcome, recover.

A task's items are claimed a batch at a time, in position order, in a DB transaction that locks
the task's row (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several hub processes share tasks
without claiming an item twice). An item is rerun at most once: one left in Processing by a hub
process that stopped is marked Failed (``hub.instances``), not sent again, because its rerun may
have reached the upstream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from hub.db.base import utcnow
from hub.errors import BadRequest, Conflict, NotFound
from hub.instances.service import Orphans
from hub.tasks.models import ItemStatus, RerunTask, RerunTaskItem, TaskStatus
from hub.transactions.models import Transaction

RUNNABLE = (TaskStatus.QUEUED, TaskStatus.PROCESSING)
# the states an admin may put a task in, from the states it may be in then
MOVES: dict[TaskStatus, tuple[TaskStatus, ...]] = {
    TaskStatus.PAUSED: (TaskStatus.QUEUED, TaskStatus.PROCESSING),
    TaskStatus.CANCELLED: (TaskStatus.QUEUED, TaskStatus.PROCESSING, TaskStatus.PAUSED),
    TaskStatus.QUEUED: (TaskStatus.PAUSED, TaskStatus.CANCELLED),
}
INTERRUPTED = (
    "the hub stopped while this rerun was in flight, so it may have reached the upstream; "
    "look at the transaction's children before rerunning it again"
)


def create(
    session: Session, transaction_ids: Sequence[int], *, batch_size: int, paused: bool, created_by: str
) -> RerunTask:
    """A task that reruns ``transaction_ids`` (each once, in the order given); every id must exist."""
    ids = list(dict.fromkeys(transaction_ids))
    if not ids:
        raise BadRequest("no transaction to rerun")
    found = set(session.scalars(select(Transaction.id).where(Transaction.id.in_(ids))))
    missing = [i for i in ids if i not in found]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10])
        raise BadRequest(
            f"{len(missing)} transaction(s) do not exist: {shown}{' …' if len(missing) > 10 else ''}"
        )
    task = RerunTask(
        status=TaskStatus.PAUSED if paused else TaskStatus.QUEUED,
        batch_size=batch_size,
        created_by=created_by,
    )
    session.add(task)
    session.flush()
    session.add_all(
        RerunTaskItem(task_id=task.id, position=n, transaction_id=i, status=ItemStatus.QUEUED)
        for n, i in enumerate(ids)
    )
    session.flush()
    return task


def get(session: Session, task_id: int) -> RerunTask:
    task = session.get(RerunTask, task_id)
    if task is None:
        raise NotFound(f"task {task_id} does not exist")
    return task


def counts(session: Session, task_id: int) -> dict[str, int]:
    """How many of the task's items are in each state (every state named, 0 when none)."""
    found = dict(
        session.execute(
            select(RerunTaskItem.status, func.count())
            .where(RerunTaskItem.task_id == task_id)
            .group_by(RerunTaskItem.status)
        ).all()
    )
    return {s.value: found.get(s.value, 0) for s in ItemStatus}


def list_page(
    session: Session, *, status: TaskStatus | None, before_id: int | None, limit: int
) -> list[RerunTask]:
    """Newest first; ``before_id`` is the cursor (the last id of the previous page)."""
    query: Select[tuple[RerunTask]] = select(RerunTask).order_by(RerunTask.id.desc()).limit(limit)
    if status is not None:
        query = query.where(RerunTask.status == status)
    if before_id is not None:
        query = query.where(RerunTask.id < before_id)
    return list(session.scalars(query))


def items_page(
    session: Session, task_id: int, *, status: ItemStatus | None, after_position: int | None, limit: int
) -> list[RerunTaskItem]:
    """The task's items in position order; ``after_position`` is the cursor."""
    get(session, task_id)
    query = (
        select(RerunTaskItem)
        .where(RerunTaskItem.task_id == task_id)
        .order_by(RerunTaskItem.position)
        .limit(limit)
    )
    if status is not None:
        query = query.where(RerunTaskItem.status == status)
    if after_position is not None:
        query = query.where(RerunTaskItem.position > after_position)
    return list(session.scalars(query))


def move(session: Session, task_id: int, to: TaskStatus) -> RerunTask:
    """Pause, cancel or queue again. Items already claimed finish their rerun either way."""
    task = _locked(session, task_id)
    allowed = MOVES.get(to)
    if allowed is None:
        raise BadRequest(f"a task can be set to {', '.join(MOVES)}, not {to}")
    if task.status == to:
        return task
    if task.status not in allowed:
        raise Conflict(f"task {task_id} is {task.status}; it cannot be set to {to}")
    task.status = to
    if to == TaskStatus.QUEUED and not _left(session, task_id):
        _complete(task)
    session.flush()
    return task


def remove(session: Session, task_id: int) -> None:
    """Delete a task and its record, unless some of its reruns are in flight."""
    task = _locked(session, task_id)
    if counts(session, task_id)[ItemStatus.PROCESSING]:
        raise Conflict(f"task {task_id} has reruns in flight; pause it and delete it when they are done")
    session.execute(delete(RerunTaskItem).where(RerunTaskItem.task_id == task_id))
    session.delete(task)


@dataclass(frozen=True, slots=True)
class Batch:
    task_id: int
    items: list[tuple[int, int]]  # (item id, transaction id)


def claim(session: Session, *, instance: str | None = None) -> Batch | None:
    """The next batch of the oldest runnable task, marked Processing by ``instance`` (the hub serve
    process that reruns it; None outside one); None when nothing is queued."""
    task = session.scalars(
        select(RerunTask)
        .where(RerunTask.status.in_(RUNNABLE))
        .order_by(RerunTask.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if task is None:
        return None
    rows = session.execute(
        select(RerunTaskItem.id, RerunTaskItem.transaction_id)
        .where(RerunTaskItem.task_id == task.id, RerunTaskItem.status == ItemStatus.QUEUED)
        .order_by(RerunTaskItem.position)
        .limit(task.batch_size)
    ).all()
    if not rows:  # its last batch is in flight, or done
        if not _left(session, task.id):
            _complete(task)
        return None
    session.execute(
        update(RerunTaskItem)
        .where(RerunTaskItem.id.in_([r.id for r in rows]))
        .values(status=ItemStatus.PROCESSING, instance=instance)
    )
    task.status = TaskStatus.PROCESSING
    return Batch(task.id, [(r.id, r.transaction_id) for r in rows])


def record(
    session: Session,
    item_id: int,
    *,
    child_id: int | None = None,
    rerun_status: str | None = None,
    error: str | None = None,
) -> None:
    """An item's outcome: its child transaction, or why it was not rerun."""
    session.execute(
        update(RerunTaskItem)
        .where(RerunTaskItem.id == item_id)
        .values(
            status=ItemStatus.FAILED if error is not None else ItemStatus.COMPLETED,
            child_id=child_id,
            rerun_status=rerun_status,
            error=error,
            finished_at=utcnow(),
        )
    )


def settle(session: Session, task_id: int) -> None:
    """After a batch: a running task with nothing left to rerun is Completed. One deleted meanwhile
    (its items taken over as interrupted, as a silent instance's are, then the task removed) has
    nothing left to settle."""
    try:
        task = _locked(session, task_id)
    except NotFound:
        return
    if task.status in RUNNABLE and not _left(session, task_id):
        _complete(task)


def recover_in_flight(session: Session, orphans: Orphans) -> int:
    """Items left in Processing by a stopped hub process (``orphans``) are Failed (see the
    module's note); found through ``ix_rerun_task_items_in_flight``."""
    result = session.execute(
        update(RerunTaskItem)
        .where(RerunTaskItem.status == ItemStatus.PROCESSING, orphans.condition(RerunTaskItem.instance))
        .values(status=ItemStatus.FAILED, error=INTERRUPTED, finished_at=utcnow())
    )
    return result.rowcount or 0


def _locked(session: Session, task_id: int) -> RerunTask:
    task = session.scalars(
        select(RerunTask)
        .where(RerunTask.id == task_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if task is None:
        raise NotFound(f"task {task_id} does not exist")
    return task


def _left(session: Session, task_id: int) -> bool:
    """Whether any item is still queued or in flight."""
    return (
        session.scalar(
            select(RerunTaskItem.id)
            .where(
                RerunTaskItem.task_id == task_id,
                RerunTaskItem.status.in_((ItemStatus.QUEUED, ItemStatus.PROCESSING)),
            )
            .limit(1)
        )
        is not None
    )


def _complete(task: RerunTask) -> None:
    task.status = TaskStatus.COMPLETED
    task.completed_at = utcnow()
