"""A batch that one slow upstream holds up claims again for the slots the ended sends freed, and
never claims a delivery it is still sending, even when its lease on it has run out."""

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
from tests.outbox.support import enqueue, load, spec


def sends(upstream_log: Callable[[], list[dict[str, Any]]]) -> Counter[str]:
    return Counter(r["path"].rsplit("/", 1)[1] for r in upstream_log())


def in_background(worker: Worker) -> tuple[threading.Thread, list[int]]:
    claimed: list[int] = []
    batch = threading.Thread(target=lambda: claimed.append(worker.run_once()))
    batch.start()
    return batch, claimed


def test_a_hung_upstream_does_not_hold_back_deliveries_due_after_it(
    db: Database,
    make_worker: Callable[..., Worker],
    upstream: str,
    upstream_log: Callable[[], list[dict[str, Any]]],
) -> None:
    (hung,) = enqueue(db, spec(f"{upstream}/sleep/4/hung", timeout_s=10))
    worker = make_worker(outbox_batch=4)
    batch, claimed = in_background(worker)
    time.sleep(0.3)  # the batch has claimed the hung delivery alone
    later = enqueue(db, spec(f"{upstream}/later-1"), spec(f"{upstream}/later-2"))

    deadline = time.monotonic() + 3.5
    while any(load(db, i).status != DeliveryStatus.DELIVERED for i in later):
        assert time.monotonic() < deadline, "the later deliveries waited for the hung one"
        time.sleep(0.05)
    assert load(db, hung).status == DeliveryStatus.IN_FLIGHT, "still on the wire when the others were done"

    batch.join(15)
    assert claimed == [3]
    row = load(db, hung)
    assert (row.status, row.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert sends(upstream_log) == {"hung": 1, "later-1": 1, "later-2": 1}


def test_a_send_whose_own_lease_ran_out_is_not_claimed_back_by_its_batch(
    db: Database,
    make_worker: Callable[..., Worker],
    upstream: str,
    upstream_log: Callable[[], list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (slow,) = enqueue(db, spec(f"{upstream}/sleep/2/slow", timeout_s=10))
    worker = make_worker(outbox_batch=4, outbox_lease_s=0.6)

    def unreachable(*args: Any, **kwargs: Any) -> list[int]:
        raise OperationalError("UPDATE deliveries …", {}, Exception("server closed the connection"))

    monkeypatch.setattr(service, "renew", unreachable)  # the lease runs out during the send
    batch, claimed = in_background(worker)
    batch.join(15)

    assert claimed == [1], "the batch's own claims passed over the delivery it was sending"
    assert sends(upstream_log) == {"slow": 1}
    row = load(db, slow)
    assert (row.status, row.attempts, row.claimed_by) == (DeliveryStatus.DELIVERED, 1, worker.id)
