"""Async import jobs on several ``hub serve`` replicas: each job records the instance running it,
and only jobs whose instance stopped are started again (``hub.instances``' rule). On each backend."""

from __future__ import annotations

import io
import time
from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import select, update

from hub.db.base import utcnow
from hub.db.session import Database
from hub.dhis2.datavalues import log, tasks
from hub.dhis2.datavalues.models import ImportJob
from hub.dhis2.datavalues.service import ImportOptions
from hub.instances import service as instances
from hub.instances.models import HubInstance
from hub.settings import Settings
from tests.dhis2.datavalues.conftest import CLIENT, DATA_GROUP, ROOTS, hub_config
from tests.dhis2.datavalues.test_api import VALUE, client

OWNERS = ("a", None, "b", "dead", "gone")  # as in tests/ops/test_instances.py; None: before 0012


def submit(db: Database, owner: str | None, status: str = "RUNNING") -> str:
    """A logged job of ``owner`` left ``status``, with one importable value; its id."""
    body = orjson.dumps({"dataValues": [VALUE]})
    transaction_id, started = log.open_entry(
        db, client=CLIENT[0], method="POST", path="/api/dataValueSets", query="async=true",
        headers={}, body=None, size=len(body), instance=owner or "x",
    )  # fmt: skip
    options = ImportOptions("json", {}, CLIENT[0], ROOTS, (DATA_GROUP,))
    with db.session() as session:
        job_id = tasks.submit(
            session, source=io.BytesIO(body), options=options, version=41, transaction_id=transaction_id,
            started=started, instance=owner or "x",
        )  # fmt: skip
        session.execute(update(ImportJob).where(ImportJob.id == job_id).values(status=status, instance=owner))
    return job_id


def beat(db: Database, name: str, *, age_s: float = 0.0) -> None:
    with db.session() as session:
        instances.beat(session, name, utcnow(), restart=True)
        stale = utcnow() - timedelta(seconds=age_s)
        session.execute(update(HubInstance).where(HubInstance.name == name).values(heartbeat_at=stale))


def jobs(db: Database) -> dict[str, tuple[str, str | None]]:
    with db.session() as session:
        return {j.id: (j.status, j.instance) for j in session.scalars(select(ImportJob))}


def test_only_jobs_whose_instance_stopped_are_taken_and_each_by_one_replica(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []
    monkeypatch.setattr(tasks, "start", lambda db, *, job_id, **_: started.append(job_id))
    ids = {owner: submit(db, owner) for owner in OWNERS}
    done = submit(db, "dead", status="COMPLETED")
    beat(db, "a", age_s=5)  # "a" crashed moments ago: its heartbeat is still fresh
    beat(db, "b")
    beat(db, "dead", age_s=61)

    def resume(me: str, *, at_start: bool) -> list[str]:
        settings = Settings(env="test", instance_name=me)
        return tasks.resume_orphaned(db, targets=[], settings=settings, at_start=at_start)

    taken = resume("a", at_start=True)
    orphaned = ("a", None, "dead", "gone")
    assert sorted(taken) == sorted(ids[o] for o in orphaned), "not b's, never a finished one"
    assert started == taken, "each taken job is started here"
    assert jobs(db) == {
        **{ids[o]: ("SCHEDULED", "a") for o in orphaned},
        ids["b"]: ("RUNNING", "b"),
        done: ("COMPLETED", "dead"),
    }
    assert resume("c", at_start=True) == [], "a's jobs are live now: another replica's start-up leaves them"
    beat(db, "b", age_s=61)  # "b" stops beating
    assert resume("a", at_start=False) == [ids["b"]], "a live replica takes over a stopped one's job"
    assert resume("c", at_start=False) == [], "once"
    assert jobs(db)[ids["b"]] == ("SCHEDULED", "a")


def test_a_restarted_hub_finishes_its_own_interrupted_job_then_a_stopped_replicas(
    loaded: Database, make_hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_TEST_DHIS2_CLIENT_PW", CLIENT[1])
    own, replicas = submit(loaded, "hub-1"), submit(loaded, "hub-2", status="SCHEDULED")
    beat(loaded, "hub-2")
    hub = make_hub(hub_config(), instance_name="hub-1", instance_heartbeat_s=0.05, instance_dead_after_s=30)

    def finished(job_id: str) -> dict[str, Any]:
        """The job's summary, once its notifications say it completed."""
        endpoint = f"/api/system/tasks/DATAVALUE_IMPORT/{job_id}"
        with client(hub) as http:
            deadline = time.monotonic() + 20
            while not http.get(endpoint).json()[0]["completed"]:
                assert time.monotonic() < deadline, "the job did not finish"
                time.sleep(0.05)
            summary: dict[str, Any] = http.get(endpoint.replace("/tasks/", "/taskSummaries/")).json()
            return summary

    assert finished(own)["importCount"] == {"imported": 1, "updated": 0, "ignored": 0, "deleted": 0}
    time.sleep(0.2)  # several heartbeats of hub-1
    assert jobs(loaded) == {own: ("COMPLETED", "hub-1"), replicas: ("SCHEDULED", "hub-2")}, "a live one's"
    beat(loaded, "hub-2", age_s=31)  # hub-2 stops beating
    assert finished(replicas)["importCount"]["updated"] == 1, "the same value, imported again"
    assert jobs(loaded)[replicas] == ("COMPLETED", "hub-1")
