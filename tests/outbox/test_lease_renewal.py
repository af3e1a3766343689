"""A worker whose lease renewals fail keeps its batch to the end (it claims nothing while it is
still sending, so it never takes back a delivery of its own), and does not start a send whose
lease has run out meanwhile: another worker has it, and sending it too would send it twice."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from hub.db.session import Database
from hub.outbox import service
from hub.outbox.models import DeliveryStatus
from hub.outbox.worker import Worker
from hub.settings import Settings
from tests.outbox.support import enqueue, load, spec, work_until


def test_a_send_whose_lease_ran_out_before_its_turn_is_left_to_the_worker_that_took_it_over(
    db: Database,
    settings: Settings,
    make_worker: Callable[..., Worker],
    upstream: str,
    upstream_log: Callable[[], list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = enqueue(db, spec(f"{upstream}/sleep/1.0/first"), spec(f"{upstream}/sleep/1.0/second"))
    # one send at a time: "second" waits for its turn while "first" is on the wire
    stalled = Worker(db, settings.model_copy(update={"outbox_lease_s": 0.6}), concurrency=1)
    renew = service.renew

    def unreachable_for_stalled(session: Any, *, worker_id: str, **kwargs: Any) -> list[int]:
        if worker_id == stalled.id:
            raise OperationalError("UPDATE deliveries …", {}, Exception("server closed the connection"))
        return renew(session, worker_id=worker_id, **kwargs)

    monkeypatch.setattr(service, "renew", unreachable_for_stalled)
    claimed: list[int] = []
    batch = threading.Thread(target=lambda: claimed.append(stalled.run_once()))
    batch.start()
    time.sleep(0.1)
    other = make_worker(outbox_lease_s=5.0)
    work_until(other, db, [first, second])  # takes both over once the stalled worker's leases run out
    batch.join(10)
    stalled.close()

    assert claimed == [2], "the batch ran to its end despite the failed renewals"
    sent = Counter(r["path"].rsplit("/", 1)[1] for r in upstream_log())
    # "first" was on the wire when its lease ran out, which no worker can undo; "second" had not started
    assert sent == {"first": 2, "second": 1}
    for delivery_id in (first, second):
        row = load(db, delivery_id)
        assert (row.status, row.attempts, row.claimed_by) == (DeliveryStatus.DELIVERED, 1, other.id)
