"""Several ``hub serve`` replicas on one database: each takes over only orphaned work in flight.

A replica's start-up fails its own earlier incarnation's work, work of no instance (from before
migration 0011) and dead instances' work; its heartbeat loop takes over a replica whose
heartbeat stopped; a live replica's work is never touched. On each backend.
"""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, event, insert, inspect, select, text, update
from sqlalchemy.orm import Session

from hub.api.app import prepare
from hub.db import base
from hub.db.base import utcnow
from hub.db.migrate import alembic_config
from hub.db.session import Database
from hub.instances import heartbeat
from hub.instances import service as instances
from hub.instances.models import HubInstance
from hub.instances.service import Orphans
from hub.runtime import Runtime
from hub.settings import INSTANCE_NAME_LENGTH, Settings
from hub.tasks import service as tasks
from hub.tasks.models import ItemStatus, RerunTaskItem
from hub.transactions import service as transactions
from hub.transactions.models import Status, Transaction
from tests.conftest import PARTNER, PASSWORD, channel, hub_settings

# the instances seen from replica "a": "b" is alive, "dead" stopped beating, "gone" has no row;
# None stands for rows from before the migration
OWNERS = ("a", None, "b", "dead", "gone")
OPENING = transactions.Opening("r", "POST", "/x", "", None, None, None, {}, '{"a":1}', 7, True)


def seed(db: Database, owners: tuple[str | None, ...] = OWNERS) -> tuple[dict[Any, int], dict[Any, int]]:
    """A Processing transaction and a rerun task item in flight per owner; their ids by owner."""
    with db.session() as session:
        opened = {o: transactions.open_transaction(session, OPENING, instance=o)[0] for o in owners}
        task = tasks.create(session, list(opened.values()), batch_size=1, paused=False, created_by="t")
        claimed = {}
        for owner in owners:
            batch = tasks.claim(session, instance=owner)
            assert batch is not None and batch.task_id == task.id
            claimed[owner] = batch.items[0][0]
    return opened, claimed


def beat(db: Database, name: str, *, age_s: float = 0.0) -> None:
    """``name`` beat ``age_s`` seconds ago."""
    with db.session() as session:
        instances.beat(session, name, utcnow(), restart=True)
        session.execute(
            update(HubInstance)
            .where(HubInstance.name == name)
            .values(heartbeat_at=utcnow() - timedelta(seconds=age_s))
        )


def statuses(db: Database, opened: dict[Any, int], claimed: dict[Any, int]) -> dict[Any, tuple[str, str]]:
    """(transaction status, item status) by owner."""
    with db.session() as session:
        txs = {t.id: t.status for t in session.scalars(select(Transaction))}
        its = {i.id: i.status for i in session.scalars(select(RerunTaskItem))}
    return {o: (txs[opened[o]], its[claimed[o]]) for o in opened}


def test_start_up_fails_its_own_untagged_and_dead_instances_work_not_a_live_replicas(db, database_url):
    opened, claimed = seed(db)
    beat(db, "a", age_s=5)  # "a" crashed moments ago: its heartbeat is still fresh
    beat(db, "b")
    beat(db, "dead", age_s=61)
    runtime = Runtime.create(hub_settings(database_url, instance_name="a"), db)
    prepare(runtime)
    runtime.log_writer.stop()

    failed = (Status.FAILED, ItemStatus.FAILED)
    assert statuses(db, opened, claimed) == {
        "a": failed,
        None: failed,
        "b": (Status.PROCESSING, ItemStatus.PROCESSING),
        "dead": failed,
        "gone": failed,
    }
    with db.session() as session:
        stuck = session.get(Transaction, opened["dead"])
        item = session.get(RerunTaskItem, claimed["dead"])
        alive = {i.name: i for i in session.scalars(select(HubInstance))}
    assert "stopped" in stuck.error["message"] and stuck.request_body == '{"a":1}', "kept for a rerun"
    assert item.error == tasks.INTERRUPTED and item.finished_at is not None
    assert set(alive) == {"a", "b"}, "a dead instance's row is forgotten"
    assert utcnow() - alive["a"].heartbeat_at < timedelta(seconds=5), "the start-up beat"
    assert utcnow() - alive["a"].started_at < timedelta(seconds=5), "a new incarnation"


def test_the_heartbeat_takes_over_a_replica_once_its_heartbeat_is_stale(make_hub, db):
    beat(db, "b")  # "dead" and "gone" never beat
    make_hub(instance_name="a", instance_heartbeat_s=0.05, instance_dead_after_s=30)
    opened, claimed = seed(db)  # after a's start-up: its own and untagged work are live now
    time.sleep(0.3)  # several beats of "a"
    live = statuses(db, opened, claimed)
    beat(db, "b", age_s=31)  # "b" stops beating
    deadline = time.monotonic() + 10
    while statuses(db, opened, claimed)["b"][0] == Status.PROCESSING and time.monotonic() < deadline:
        time.sleep(0.05)

    in_flight = (Status.PROCESSING, ItemStatus.PROCESSING)
    failed = (Status.FAILED, ItemStatus.FAILED)
    assert live == {"a": in_flight, None: in_flight, "b": in_flight, "dead": failed, "gone": failed}
    assert statuses(db, opened, claimed) == {
        "a": in_flight,
        None: in_flight,
        "b": failed,
        "dead": failed,
        "gone": failed,
    }, "only a start-up takes over its own and untagged work"
    with db.session() as session:
        names = set(session.scalars(select(HubInstance.name)))
        beaten = session.get(HubInstance, "a").heartbeat_at
    assert names == {"a"} and utcnow() - beaten < timedelta(seconds=5)


def test_heartbeats_are_read_on_the_databases_clock(db, database_url, monkeypatch):
    """On PostgreSQL a replica whose host clock runs an hour fast still sees "b" alive and beats
    at the database's time; SQLite's processes share one host, whose clock it uses."""
    opened = seed(db, ("b",))[0]
    beat(db, "b", age_s=5)
    fast = utcnow() + timedelta(hours=1)
    monkeypatch.setattr(base, "utcnow", lambda: fast)  # the host clock db.base.clock reads on SQLite
    with db.session() as session:
        orphans = Orphans.now(session, hub_settings(database_url, instance_name="a"), at_start=False)
        failed = transactions.recover_processing(session, orphans)
        instances.beat(session, "a", fast, restart=True)
    with db.session() as session:
        beaten = session.get(HubInstance, "a").heartbeat_at
        status = session.get(Transaction, opened["b"]).status
    if db.dialect == "postgresql":
        assert (failed, status) == (0, Status.PROCESSING), "b is alive on the shared clock"
        assert abs(beaten - utcnow()) < timedelta(seconds=5), "a beats at the database's time"
    else:
        assert (failed, status) == (1, Status.FAILED) and beaten == fast


def test_a_process_sharing_an_instance_name_is_reported(db, database_url, caplog):
    runtime = Runtime.create(hub_settings(database_url, instance_name="twin"), db)
    heartbeat.start(runtime)
    first = heartbeat.beat(runtime, None)
    assert heartbeat.beat(runtime, first) == first and "another hub process" not in caplog.text
    heartbeat.start(runtime)  # a second process starts under the same name
    heartbeat.beat(runtime, first)
    assert "another hub process has started under this instance name" in caplog.text


def test_the_gateway_and_the_task_runner_record_their_instance(make_hub, upstream, partner_password, db):
    hub = make_hub(
        {"clients": [PARTNER], "channels": [channel("echo", r"/echo/.*", upstream)]},
        instance_name="replica-1",
        rerun_task_poll_s=0.05,
    )
    with hub.client("partner-1", PASSWORD) as c:
        r = c.post("/echo/1", json={"i": 1})
    tx_id = int(r.headers["x-hub-transaction-id"])
    with hub.admin() as admin:
        task = admin.post("/admin/tasks", json={"ids": [tx_id]}).json()
        deadline = time.monotonic() + 30
        while admin.get(f"/admin/tasks/{task['id']}").json()["status"] != "Completed":
            assert time.monotonic() < deadline, "the task did not finish"
            time.sleep(0.05)
        shown = admin.get(f"/admin/transactions/{tx_id}").json()
    assert shown["instance"] == "replica-1", "the admin API shows it"
    with db.session() as session:
        original = session.get(Transaction, tx_id)
        item = session.scalars(select(RerunTaskItem).where(RerunTaskItem.task_id == task["id"])).one()
        child = session.get(Transaction, item.child_id)
        row = session.get(HubInstance, "replica-1")
    assert r.status_code == 200 and original.status == Status.SUCCESSFUL
    assert original.instance == "replica-1", "the gateway's open records it (the writer process's value)"
    assert item.instance == "replica-1", "the runner's claim records it"
    assert child.instance == "replica-1" and child.parent_id == tx_id
    assert row is not None and utcnow() - row.heartbeat_at < timedelta(seconds=30), "it beats"


def _captured(engine: Engine, work: Any) -> list[tuple[str, Any]]:
    """The UPDATE statements ``work(session)`` runs, rolled back, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.startswith("UPDATE"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.connect() as conn, Session(bind=conn) as session:
            work(session)
            session.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return seen


@pytest.mark.parametrize("at_start", [True, False], ids=["start-up", "heartbeat"])
def test_the_take_over_walks_the_rows_in_flight_not_the_tables(db, at_start):
    """Processing rows are few among many: the take-over finds them through an index, each
    owner looked up by primary key."""
    done = 5_000
    with db.engine.begin() as conn:
        conn.execute(
            insert(Transaction),
            [
                {"request_id": f"r{i}", "method": "GET", "path": "/x", "status": Status.SUCCESSFUL}
                for i in range(done)
            ],
        )
    seed(db)
    with db.engine.begin() as conn:
        task_id = conn.execute(text("SELECT max(task_id) FROM rerun_task_items")).scalar_one()
        conn.execute(
            insert(RerunTaskItem),
            [
                {"task_id": task_id, "position": 10 + i, "transaction_id": i, "status": ItemStatus.COMPLETED}
                for i in range(done)
            ],
        )
        conn.execute(text("ANALYZE"))
    orphans = Orphans("a", utcnow(), at_start=at_start)
    statements = _captured(
        db.engine,
        lambda s: (transactions.recover_processing(s, orphans), tasks.recover_in_flight(s, orphans)),
    )
    plans = [_plan(db, sql, parameters) for sql, parameters in statements]

    assert len(plans) == 2
    indexes = ("ix_transactions_by_status", "ix_rerun_task_items_in_flight")
    for table, index, shown in zip(("transactions", "rerun_task_items"), indexes, plans, strict=True):
        if db.dialect == "sqlite":
            assert f"INDEX {index} (status=?" in shown, shown
        else:
            assert f"Seq Scan on {table}" not in shown, shown
        assert "hub_instances" in shown, "the owner's heartbeat is looked up"


def _plan(db: Database, sql: str, parameters: Any) -> str:
    with db.engine.connect() as conn:
        if db.dialect == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)
        else:
            rows = conn.exec_driver_sql(f"EXPLAIN {sql}", parameters)
        return "\n".join(str(row[-1]) for row in rows)


def test_the_migration_adds_the_columns_and_table_and_its_downgrade_removes_them(db, database_url):
    config = alembic_config(database_url)
    with db.session() as session:
        kept = transactions.open_transaction(session, OPENING, instance="a")[0]
        instances.beat(session, "a", utcnow(), restart=True)
    command.downgrade(config, "0010")
    shape = inspect(db.engine)
    assert "hub_instances" not in shape.get_table_names()
    assert "instance" not in {c["name"] for c in shape.get_columns("transactions")}
    assert "instance" not in {c["name"] for c in shape.get_columns("rerun_task_items")}
    assert "ix_rerun_task_items_in_flight" not in {i["name"] for i in shape.get_indexes("rerun_task_items")}
    assert "instance" not in {c["name"] for c in shape.get_columns("dhis2_import_jobs")}, "0012 first"
    command.upgrade(config, "heads")
    db.engine.dispose()  # the tables changed under the pool's connections
    assert "instance" in {c["name"] for c in inspect(db.engine).get_columns("dhis2_import_jobs")}
    with db.session() as session:
        row = session.get(Transaction, kept)
        assert row.status == Status.PROCESSING and row.instance is None, "older rows have no instance"
        assert session.scalars(select(HubInstance)).all() == []


def test_the_instance_name_defaults_to_the_host_name_and_the_heartbeat_must_be_shorter():
    assert Settings(env="test").instance_name == socket.gethostname()[:INSTANCE_NAME_LENGTH]
    with pytest.raises(ValueError, match="at least twice"):
        Settings(env="test", instance_heartbeat_s=10, instance_dead_after_s=15)
    with pytest.raises(ValueError, match="instance_name"):
        Settings(env="test", instance_name="x" * (INSTANCE_NAME_LENGTH + 1))


def test_a_commands_reruns_belong_to_its_own_instance_which_beats_while_it_works(db, database_url):
    """``hub transactions rerun`` is not a ``hub serve``: its work in flight carries an instance of
    its own, alive while it works, so neither a replica's take-over nor a start-up of the host's
    ``hub serve`` fails it; the instance is forgotten at the end."""
    served = hub_settings(database_url, instance_name="a", instance_heartbeat_s=0.05)
    command_settings = heartbeat.for_command(served)
    name = command_settings.instance_name
    assert name.startswith("cli-") and name.endswith("@a") and len(name) <= INSTANCE_NAME_LENGTH
    runtime = Runtime.create(command_settings, db)

    def heartbeat_at() -> Any:
        with db.session() as session:
            return session.scalar(select(HubInstance.heartbeat_at).where(HubInstance.name == name))

    async def working() -> tuple[Any, Any, int]:
        async with heartbeat.beating(runtime):
            with db.session() as session:
                opened = transactions.open_transaction(session, OPENING, instance=name)[0]
            first = heartbeat_at()
            await asyncio.sleep(0.3)
            with db.session() as session:  # the host's hub serve starting, then replica b's loop
                transactions.recover_processing(session, Orphans.now(session, served, at_start=True))
                replica = hub_settings(database_url, instance_name="b")
                transactions.recover_processing(session, Orphans.now(session, replica, at_start=False))
            return first, heartbeat_at(), opened

    try:
        first, later, opened = asyncio.run(working())
    finally:
        runtime.log_writer.stop()

    assert first is not None and later > first, "it beat while it worked"
    with db.session() as session:
        assert session.get(Transaction, opened).status == Status.PROCESSING
    assert heartbeat_at() is None, "forgotten at the end"
