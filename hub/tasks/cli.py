"""``hub tasks``: rerun tasks (the admin API's ``/tasks``) from the command line.

    hub tasks add 41 42 43                  or  --status Failed --channel dhis2 --since 2024-05-01T00:00Z
    hub tasks list --status Paused
    hub tasks show 7                        how many of its transactions are in each state
    hub tasks pause 7                       or  resume 7, cancel 7
    hub tasks delete 7

A task is run by ``hub serve`` (its task runner), a batch at a time: ``add`` only queues it. A
request is refused for the admin API's reasons, in its words (:mod:`hub.tasks.admin`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from hub.cli_db import ROW_ID, json_option, print_json, session_scope, usage_error
from hub.tasks import admin, service
from hub.tasks.models import TaskStatus
from hub.tasks.schemas import TaskRequest, TaskSummary

CLI_ACTOR = "cli"  # the created_by of tasks added here (the admin API's is the admin's name)

console = Console()

_REQUEST = TaskRequest.model_fields
task_id_argument = click.argument("task_id", type=ROW_ID)


@click.group()
def tasks() -> None:
    """Rerun tasks: many transactions rerun in the background by `hub serve`."""


def _option_name(field: str) -> str:
    # the model's fields are the command's arguments and options
    return "transaction ids" if field == "ids" else f"--{field.replace('_', '-')}"


def _request(**fields: Any) -> TaskRequest:
    """The admin API's request body, validated by its model; a bad value is a usage error."""
    try:
        return TaskRequest(**fields)
    except ValidationError as exc:
        raise usage_error(exc, _option_name) from None


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


@tasks.command("add")
@click.argument("ids", nargs=-1, type=int)  # refused as the admin API refuses them (TaskRequest)
@click.option("--status", default=None, help="transactions with this status (Failed, Successful, …)")
@click.option("--channel", default=None, help="transactions of this channel")
@click.option("--since", default=None, help="started at or after this time (ISO 8601, with a timezone)")
@click.option("--until", default=None, help="started before this time (ISO 8601, with a timezone)")
@click.option(
    "--limit", default=_REQUEST["limit"].default, show_default=True, help="at most this many, oldest first"
)
@click.option(
    "--batch-size",
    default=_REQUEST["batch_size"].default,
    show_default=True,
    help=_REQUEST["batch_size"].description,
)
@click.option("--paused", is_flag=True, help="add it Paused; `hub tasks resume` queues it")
def tasks_add(
    ids: tuple[int, ...],
    status: str | None,
    channel: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    batch_size: int,
    paused: bool,
) -> None:
    """Queue a rerun task; `hub serve` runs it.

    The task reruns the transactions given by id (each once, in that order), or else the oldest
    --limit that the filters match. This command only queues it: the task runner inside
    `hub serve` reruns --batch-size transactions at a time. Follow it with `hub tasks show ID`.
    """
    request = _request(
        ids=list(ids),
        status=status,
        channel=channel,
        since=since,
        until=until,
        limit=limit,
        batch_size=batch_size,
        paused=paused,
    )
    with session_scope() as session:
        task = admin.detail(session, admin.create(session, request, created_by=CLI_ACTOR))
    console.print(
        f"task {task.id} {task.status}: {task.total} transactions to rerun, {task.batch_size} at a time"
    )
    if task.status == TaskStatus.PAUSED:
        console.print(f"`hub tasks resume {task.id}` queues it for `hub serve`")
    else:
        console.print("`hub serve` runs it; it is not running here")


@tasks.command("list")
@click.option("--status", type=click.Choice([s.value for s in TaskStatus]), default=None)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
def tasks_list(status: str | None, limit: int, as_json: bool) -> None:
    """List tasks, newest first."""
    with session_scope() as session:
        rows = service.list_page(
            session, status=TaskStatus(status) if status else None, before_id=None, limit=limit
        )
    summaries = [TaskSummary.model_validate(r) for r in rows]
    if as_json:
        print_json([s.model_dump(mode="json") for s in summaries])
        return
    table = Table("id", "status", "batch", "created by", "created", "completed")
    for s in summaries:
        table.add_row(
            str(s.id), s.status, str(s.batch_size), s.created_by, _when(s.created_at), _when(s.completed_at)
        )
    console.print(table)


@tasks.command("show")
@task_id_argument
@click.option("--json", "as_json", is_flag=True, help="print the admin API's JSON instead")
def tasks_show(task_id: int, as_json: bool) -> None:
    """Show a task and how many of its transactions are in each state."""
    with session_scope() as session:
        task = admin.detail(session, service.get(session, task_id))
    if as_json:
        print_json(task.model_dump(mode="json"))
        return
    completed = f", completed {_when(task.completed_at)}" if task.completed_at else ""
    console.print(
        f"task {task.id} {task.status}: {task.batch_size} at a time, "
        f"added by {task.created_by} {_when(task.created_at)}{completed}"
    )
    table = Table("transactions", "count")
    for state, count in task.items.items():
        table.add_row(state, str(count))
    table.add_row("total", str(task.total))
    console.print(table)


def _move(name: str, to: TaskStatus, help_text: str) -> None:
    """``hub tasks <name> ID``: put the task in state ``to``, as ``PUT /admin/tasks/ID`` does."""

    @tasks.command(name, help=help_text)
    @task_id_argument
    def move(task_id: int) -> None:
        with session_scope() as session:
            task = service.move(session, task_id, to)
        console.print(f"task {task_id} {task.status}")


_move("pause", TaskStatus.PAUSED, "Pause a task: no further batch starts; reruns in flight finish.")
_move("resume", TaskStatus.QUEUED, "Queue a Paused or Cancelled task again, for `hub serve` to run.")
_move("cancel", TaskStatus.CANCELLED, "Cancel a task: what is left of it is not rerun (unless resumed).")


@tasks.command("delete")
@task_id_argument
def tasks_delete(task_id: int) -> None:
    """Delete a task and its record.

    Refused while some of its reruns are in flight: pause it, and delete it once they are done.
    """
    with session_scope() as session:
        service.remove(session, task_id)
    console.print(f"task {task_id} deleted")
