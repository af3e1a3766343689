"""Admin API for rerun tasks, as OpenHIM core's ``/tasks``: rerun many transactions in the background."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from hub.api.deps import AdminDep, SessionDep
from hub.api.fields import MAX_ROW_ID, RowId
from hub.api.paging import next_cursor
from hub.api.routing import JsonRoute
from hub.tasks import admin as admin_tasks
from hub.tasks import service
from hub.tasks.models import ItemStatus, TaskStatus
from hub.tasks.schemas import TaskDetail, TaskItem, TaskItemPage, TaskMove, TaskPage, TaskRequest, TaskSummary

router = APIRouter(prefix="/tasks", tags=["tasks"], route_class=JsonRoute)


@router.post(
    "",
    response_model=TaskDetail,
    status_code=201,
    summary="Rerun many transactions in the background: by ids, or by filters up to a limit",
    responses={400: {"description": "no ids nor filter, an unknown id, or nothing matches"}},
)
def create_task(body: TaskRequest, admin: AdminDep, session: SessionDep) -> TaskDetail:
    return admin_tasks.detail(session, admin_tasks.create(session, body, created_by=admin.name))


@router.get("", response_model=TaskPage, summary="List tasks, newest first")
def list_tasks(
    _: AdminDep,
    session: SessionDep,
    status: TaskStatus | None = None,
    before_id: Annotated[RowId | None, Query(description="cursor: the last id of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> TaskPage:
    rows = service.list_page(session, status=status, before_id=before_id, limit=limit)
    return TaskPage(
        items=[TaskSummary.model_validate(r) for r in rows],
        next_before_id=next_cursor(rows, limit),
    )


@router.get("/{task_id}", response_model=TaskDetail, summary="One task, with its progress")
def get_task(task_id: RowId, _: AdminDep, session: SessionDep) -> TaskDetail:
    return admin_tasks.detail(session, service.get(session, task_id))


@router.get("/{task_id}/items", response_model=TaskItemPage, summary="A task's transactions and their reruns")
def list_items(
    task_id: RowId,
    _: AdminDep,
    session: SessionDep,
    status: ItemStatus | None = None,
    after_position: Annotated[
        int | None, Query(ge=0, le=MAX_ROW_ID, description="cursor: the last position seen")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> TaskItemPage:
    rows = service.items_page(session, task_id, status=status, after_position=after_position, limit=limit)
    return TaskItemPage(
        items=[TaskItem.model_validate(r) for r in rows],
        next_after_position=next_cursor(rows, limit, "position"),
    )


@router.put(
    "/{task_id}",
    response_model=TaskDetail,
    summary="Pause, cancel, or queue again (resume)",
    responses={409: {"description": "the task cannot go to that state from its own"}},
)
def move_task(task_id: RowId, body: TaskMove, _: AdminDep, session: SessionDep) -> TaskDetail:
    return admin_tasks.detail(session, service.move(session, task_id, body.status))


@router.delete(
    "/{task_id}",
    status_code=204,
    summary="Delete a task and its record",
    responses={409: {"description": "some of its reruns are in flight"}},
)
def delete_task(task_id: RowId, _: AdminDep, session: SessionDep) -> Response:
    service.remove(session, task_id)
    return Response(status_code=204)
