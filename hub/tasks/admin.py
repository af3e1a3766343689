"""What the admin API's ``/tasks`` and ``hub tasks`` share: a task made from a request, a task shown.

Both go through here so that a request is refused by either for the same reasons, in the same words.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from hub.errors import BadRequest
from hub.tasks import service
from hub.tasks.models import RerunTask
from hub.tasks.schemas import TaskDetail, TaskRequest, TaskSummary
from hub.transactions import service as transactions


def create(session: Session, request: TaskRequest, *, created_by: str) -> RerunTask:
    """A task for the request's ``ids``, or else for the oldest ``limit`` transactions its filters match."""
    if request.ids:
        ids = request.ids
    elif request.filtered:
        filters = transactions.Filters(
            status=request.status, channel=request.channel, since=request.since, until=request.until
        )
        ids = transactions.ids_matching(session, filters=filters, limit=request.limit)
        if not ids:
            raise BadRequest("no transaction matches these filters")
    else:
        raise BadRequest("give ids, or at least one of status, channel, since and until")
    return service.create(
        session, ids, batch_size=request.batch_size, paused=request.paused, created_by=created_by
    )


def detail(session: Session, task: RerunTask) -> TaskDetail:
    """``task`` with how many of its transactions are in each state."""
    items = service.counts(session, task.id)
    summary = TaskSummary.model_validate(task).model_dump()
    return TaskDetail(**summary, items=items, total=sum(items.values()))
