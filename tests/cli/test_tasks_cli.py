"""``hub tasks``: rerun tasks added, listed, shown, moved and deleted from the command line.

In-process against a real migrated database, on each backend. No hub is serving, so a task only
runs when a test claims and records its batches through the service, as ``hub serve``'s runner does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from click.testing import CliRunner, Result
from sqlalchemy import func, select, update

from hub.cli import main
from hub.db.migrate import alembic_config
from hub.db.session import Database
from hub.settings import get_settings
from hub.tasks import service
from hub.tasks.cli import CLI_ACTOR
from hub.tasks.models import ItemStatus, RerunTaskItem
from hub.transactions.models import Status, Transaction
from tests.outbox.support import transaction

Hub = Callable[..., Result]


@pytest.fixture
def hub(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    """``hub(*args)``: run ``hub …`` in-process on the test's database; its result."""
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_LOG_FORMAT", "console")
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(main, list(args))
    get_settings.cache_clear()


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def refused(result: Result, needle: str, exit_code: int = 1) -> None:
    """A clean refusal through click (no exception escaping), its reason in an ``Error:`` line."""
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and needle in errors[0], result.output


def added(output: str) -> int:
    """The id of the task ``hub tasks add`` reports."""
    return int(output.split()[1].rstrip(":"))


def shown(hub: Hub, task_id: int) -> dict:
    return json.loads(ok(hub("tasks", "show", str(task_id), "--json")))


def queued_ids(db: Database, task_id: int) -> list[int]:
    with db.session() as session:
        rows = service.items_page(session, task_id, status=None, after_position=None, limit=100)
    return [r.transaction_id for r in rows]


def run_batch(db: Database) -> list[int]:
    """Claim the next batch as the runner does; its item ids (left Processing)."""
    with db.session() as session:
        batch = service.claim(session)
    assert batch is not None
    return [item_id for item_id, _ in batch.items]


def finish(db: Database, task_id: int, item_ids: list[int]) -> None:
    with db.session() as session:
        for item_id in item_ids:
            service.record(session, item_id, child_id=None, rerun_status="Successful")
        service.settle(session, task_id)


def test_add_by_ids_then_list_and_show(hub: Hub, db: Database) -> None:
    first, second = transaction(db, Status.FAILED), transaction(db, Status.SUCCESSFUL)

    out = ok(hub("tasks", "add", str(second), str(first), str(second), "--batch-size", "2"))
    task_id = added(out)

    assert f"task {task_id} Queued: 2 transactions to rerun, 2 at a time" in out
    assert "`hub serve` runs it" in out
    assert queued_ids(db, task_id) == [second, first], "each once, in the order given"
    listing = ok(hub("tasks", "list"))
    assert str(task_id) in listing and "Queued" in listing and CLI_ACTOR in listing
    [summary] = json.loads(ok(hub("tasks", "list", "--json")))
    assert (summary["id"], summary["status"], summary["batch_size"]) == (task_id, "Queued", 2)
    assert summary["created_by"] == CLI_ACTOR
    assert json.loads(ok(hub("tasks", "list", "--status", "Paused", "--json"))) == []
    detail = shown(hub, task_id)
    assert detail["items"] == {"Queued": 2, "Processing": 0, "Completed": 0, "Failed": 0}
    assert detail["total"] == 2 and detail["completed_at"] is None
    table = ok(hub("tasks", "show", str(task_id)))
    assert f"task {task_id} Queued: 2 at a time, added by {CLI_ACTOR}" in table
    assert all(state.value in table for state in ItemStatus) and "total" in table


def test_add_by_filters_takes_the_oldest_matches_up_to_the_limit(hub: Hub, db: Database) -> None:
    failed = [transaction(db, Status.FAILED) for _ in range(3)]
    transaction(db, Status.SUCCESSFUL)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    with db.session() as session:
        session.execute(update(Transaction).where(Transaction.id == failed[0]).values(started_at=an_hour_ago))

    out = ok(hub("tasks", "add", "--status", "Failed", "--limit", "2", "--paused", "--batch-size", "1"))
    task_id = added(out)
    assert f"task {task_id} Paused: 2 transactions to rerun, 1 at a time" in out
    assert f"`hub tasks resume {task_id}`" in out
    assert queued_ids(db, task_id) == failed[:2]

    since = (an_hour_ago + timedelta(minutes=1)).isoformat()
    recent = added(ok(hub("tasks", "add", "--status", "Failed", "--since", since)))
    assert queued_ids(db, recent) == failed[1:]
    until = added(ok(hub("tasks", "add", "--channel", "test", "--until", since)))
    assert queued_ids(db, until) == failed[:1]


def test_add_is_refused_as_the_admin_api_refuses(hub: Hub, db: Database) -> None:
    tx = transaction(db, Status.FAILED)
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    refused(hub("tasks", "add"), "give ids, or at least one of status, channel, since and until")
    refused(hub("tasks", "add", str(tx), "987654321"), "1 transaction(s) do not exist: 987654321")
    refused(hub("tasks", "add", "--since", later), "no transaction matches these filters")
    refused(hub("tasks", "add", "--status", "Broken"), "unknown status 'Broken'")
    refused(hub("tasks", "add", str(tx), "--batch-size", "0"), "--batch-size: Input should be greater", 2)
    refused(hub("tasks", "add", "--since", "2024-05-01T00:00:00"), "--since: Input should have timezone", 2)
    refused(hub("tasks", "add", "0"), "transaction ids: Input should be greater than or equal to 1", 2)
    assert json.loads(ok(hub("tasks", "list", "--json"))) == [], "nothing was added"


def test_pause_resume_cancel_and_a_refused_move(hub: Hub, db: Database) -> None:
    task_id = added(ok(hub("tasks", "add", str(transaction(db, Status.FAILED)))))
    tid = str(task_id)

    assert f"task {task_id} Paused" in ok(hub("tasks", "pause", tid))
    with db.session() as session:
        assert service.claim(session) is None, "a paused task is not run"
    assert f"task {task_id} Cancelled" in ok(hub("tasks", "cancel", tid))
    refused(hub("tasks", "pause", tid), f"task {task_id} is Cancelled; it cannot be set to Paused")
    assert f"task {task_id} Queued" in ok(hub("tasks", "resume", tid))
    assert shown(hub, task_id)["status"] == "Queued"

    finish(db, task_id, run_batch(db))
    assert shown(hub, task_id)["items"]["Completed"] == 1
    refused(hub("tasks", "resume", tid), f"task {task_id} is Completed; it cannot be set to Queued")
    assert "Completed" in ok(hub("tasks", "show", tid))


def test_delete_waits_for_reruns_in_flight(hub: Hub, db: Database) -> None:
    task_id = added(ok(hub("tasks", "add", str(transaction(db, Status.FAILED)))))
    in_flight = run_batch(db)

    refused(hub("tasks", "delete", str(task_id)), f"task {task_id} has reruns in flight")
    finish(db, task_id, in_flight)
    assert f"task {task_id} deleted" in ok(hub("tasks", "delete", str(task_id)))
    refused(hub("tasks", "show", str(task_id)), f"task {task_id} does not exist")
    with db.session() as session:
        left = session.scalar(select(func.count()).where(RerunTaskItem.task_id == task_id))
    assert left == 0, "its items went with it"


def test_an_unknown_task_is_one_line(hub: Hub) -> None:
    for verb in ("show", "pause", "resume", "cancel", "delete"):
        refused(hub("tasks", verb, "424242"), "task 424242 does not exist")
    refused(hub("tasks", "show", "0"), "0 is not in the range", 2)


def test_an_unmigrated_database_names_the_fix(hub: Hub, database_url: str) -> None:
    command.downgrade(alembic_config(database_url), "base")
    for args in (["list"], ["show", "1"], ["add", "1"], ["pause", "1"], ["delete", "1"]):
        refused(hub("tasks", *args), "run `hub db upgrade`")
