"""The two proofs, with real worker processes: concurrent workers never send a delivery twice, and a
worker killed mid-send loses nothing (its deliveries are resent under the same Idempotency-Key)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.db.session import Database
from hub.outbox.models import Delivery, DeliveryStatus
from tests.conftest import ROOT
from tests.outbox.support import enqueue, spec

pytestmark = pytest.mark.slow


class WorkerProcess:
    """``python -m hub.outbox.cli worker`` on the test database, logging to a file."""

    def __init__(self, database_url: str, log: Path, **settings: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env |= {
            "HUB_ENV": "test",
            "HUB_DATABASE_URL": database_url,
            "HUB_LOG_FORMAT": "console",
            "HUB_OUTBOX_POLL_S": "0.1",
            **{f"HUB_{k.upper()}": v for k, v in settings.items()},
        }
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub.outbox.cli", "worker", "--concurrency", "8"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_started(self, timeout_s: float = 20) -> None:
        deadline = time.monotonic() + timeout_s
        while "outbox worker started" not in self.log.read_text():
            assert self.proc.poll() is None, f"worker exited:\n{self.log.read_text()}"
            assert time.monotonic() < deadline, f"worker did not start:\n{self.log.read_text()}"
            time.sleep(0.05)


@pytest.fixture
def spawn(database_url: str, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(**settings: str) -> WorkerProcess:
        worker = WorkerProcess(database_url, tmp_path / f"worker-{len(started)}.log", **settings)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            worker.proc.kill()
        worker.proc.wait(10)


def deliveries(db: Database) -> list[Delivery]:
    with db.session() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def wait_all_delivered(db: Database, timeout_s: float) -> list[Delivery]:
    deadline = time.monotonic() + timeout_s
    while True:
        rows = deliveries(db)
        if all(d.status == DeliveryStatus.DELIVERED for d in rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"not delivered in time: {Counter(d.status for d in rows)}")
        time.sleep(0.1)


def test_two_worker_processes_never_send_a_delivery_twice(
    db: Database,
    spawn: Callable[..., WorkerProcess],
    upstream: str,
    upstream_log: Callable[[], list[dict[str, Any]]],
) -> None:
    workers = [spawn(outbox_batch="2"), spawn(outbox_batch="2")]
    for worker in workers:
        worker.wait_started()
    # Tiny batches keep both workers claiming back to back, so their claims overlap: without
    # SKIP LOCKED (or with a plain SELECT then UPDATE) this sends deliveries twice on PostgreSQL.
    enqueue(db, *(spec(f"{upstream}/proof/{i}") for i in range(200)))

    rows = wait_all_delivered(db, timeout_s=25)
    for worker in workers:
        worker.proc.send_signal(signal.SIGTERM)
    assert [w.proc.wait(10) for w in workers] == [0, 0], "SIGTERM is a clean stop"

    sent = Counter(r["headers"]["idempotency-key"] for r in upstream_log())
    assert sent == Counter({d.idempotency_key: 1 for d in rows}), "every delivery sent exactly once"
    assert {d.attempts for d in rows} == {1}
    by_pid = Counter(int(d.claimed_by.split(":")[1]) for d in rows if d.claimed_by)
    assert set(by_pid) == {w.proc.pid for w in workers}, f"both workers must share the work: {by_pid}"


def test_a_killed_worker_loses_nothing(
    db: Database,
    spawn: Callable[..., WorkerProcess],
    upstream: str,
    upstream_log: Callable[[], list[dict[str, Any]]],
) -> None:
    doomed = spawn(outbox_lease_s="2", outbox_batch="20")
    doomed.wait_started()
    enqueue(db, *(spec(f"{upstream}/sleep/1/kill/{i}") for i in range(40)))
    deadline = time.monotonic() + 15
    while len(upstream_log()) < 8:  # a full pool's worth of requests is on the wire
        assert time.monotonic() < deadline, "the worker never started sending"
        time.sleep(0.02)
    in_flight = {d.idempotency_key for d in deliveries(db) if d.status == DeliveryStatus.IN_FLIGHT}
    doomed.proc.send_signal(signal.SIGKILL)
    doomed.proc.wait(10)
    assert in_flight, "the worker must die with deliveries in flight"

    spawn(outbox_lease_s="2", outbox_batch="20")
    rows = wait_all_delivered(db, timeout_s=25)

    sent = Counter(r["headers"]["idempotency-key"] for r in upstream_log())
    assert set(sent) == {d.idempotency_key for d in rows}, "every delivery reached the upstream"
    resent = {key for key, count in sent.items() if count > 1}
    assert resent, "the requests cut off by the kill are sent again"
    assert resent <= in_flight, "only deliveries in flight at the kill are sent twice"
    assert max(sent.values()) == 2
