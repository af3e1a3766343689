"""Retention covers the outbox: settled deliveries lose their bodies, then their rows, by age, in the
same run as the transaction log; pending and in-flight deliveries are never touched."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from hub.db.base import utcnow
from hub.db.session import Database
from hub.outbox.models import Delivery, DeliveryStatus
from hub.settings import Settings
from hub.transactions import retention
from hub.transactions.models import Status, Transaction
from tests.outbox.support import enqueue, load, spec, transaction

BODY = b'{"value": 1}'
AGES_DAYS = (400, 40, 1)  # past the purge age (365), past the body-cull age (30), recent
SETTLED = {DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.DEAD}


def age(db: Database, delivery_id: int, status: DeliveryStatus, created_at: datetime) -> None:
    values: dict[str, Any] = {"status": status, "created_at": created_at}
    if status == DeliveryStatus.IN_FLIGHT:
        values |= {"claimed_by": "busy:1:worker", "lease_until": utcnow() + timedelta(minutes=1)}
    with db.session() as session:
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


@pytest.fixture
def outbox(db: Database) -> Iterator[tuple[datetime, dict[tuple[DeliveryStatus, int], int]]]:
    """A delivery of every status at every age, all of one transaction as old as the oldest;
    yields now and the deliveries' ids by (status, age in days)."""
    now = utcnow()
    tx_id = transaction(db, Status.PENDING_ASYNC)
    with db.session() as session:
        session.get_one(Transaction, tx_id).started_at = now - timedelta(days=max(AGES_DAYS))
    ids = {}
    for status in DeliveryStatus:
        for days in AGES_DAYS:
            (ids[status, days],) = enqueue(db, spec("http://dhis2.test/api", body=BODY), transaction_id=tx_id)
            age(db, ids[status, days], status, now - timedelta(days=days))
    yield now, ids


def test_settled_deliveries_lose_bodies_then_rows_by_age_and_owed_ones_are_untouched(
    db: Database, outbox: tuple[datetime, dict[tuple[DeliveryStatus, int], int]]
) -> None:
    now, ids = outbox
    settings = Settings(env="test", database_url=db.url, body_cull_after_days=30, purge_after_days=365)
    settled = transaction(db, Status.SUCCESSFUL)  # as old, and owed nothing
    with db.session() as session:
        session.get_one(Transaction, settled).started_at = now - timedelta(days=max(AGES_DAYS))

    with db.session() as session:
        first = retention.apply(session, settings, now=now)
        # a second run an instant later finds nothing new: the cutoff comes from the age, not the last run
        second = retention.apply(session, settings, now=now + timedelta(seconds=1))

    assert first == retention.Retained(
        bodies_culled=2, transactions_purged=1, delivery_bodies_culled=6, deliveries_purged=3
    )
    assert second == retention.Retained()
    with db.session() as session:
        kept = dict(session.execute(select(Delivery.id, Delivery.body)).all())
    for (status, days), delivery_id in ids.items():
        if status not in SETTLED or days == 1:
            assert kept[delivery_id] == BODY, f"a {days}-day-old {status} delivery lost its body"
        elif days == 40:
            assert kept[delivery_id] == b"", f"a {days}-day-old {status} delivery kept its body"
        else:
            assert delivery_id not in kept, f"a {days}-day-old {status} delivery was not purged"
    owed = load(db, ids[DeliveryStatus.IN_FLIGHT, 400])
    assert (owed.status, owed.claimed_by) == (DeliveryStatus.IN_FLIGHT, "busy:1:worker")
    with db.session() as session:
        left = set(session.scalars(select(Transaction.id)))
    assert owed.transaction_id in left, "a transaction the outbox still owes was purged"
    assert settled not in left, "an old transaction owed nothing was kept"


def test_ages_of_none_switch_the_steps_off(
    db: Database, outbox: tuple[datetime, dict[tuple[DeliveryStatus, int], int]]
) -> None:
    now, ids = outbox
    settings = Settings(env="test", database_url=db.url, body_cull_after_days=None, purge_after_days=None)

    with db.session() as session:
        assert retention.apply(session, settings, now=now) == retention.Retained()
        bodies = list(session.scalars(select(Delivery.body)))
    assert bodies == [BODY] * len(ids)


@pytest.mark.parametrize("setting", ["body_cull_after_days", "purge_after_days"])
@pytest.mark.parametrize("days", [0, -1])
def test_an_age_that_would_take_everything_is_refused(setting: str, days: float) -> None:
    with pytest.raises(ValueError, match=f"{setting}\\n  Input should be greater than 0"):
        Settings(env="test", **{setting: days})


def test_a_culled_delivery_cannot_be_retried_and_shows_no_body(
    make_hub: Callable[..., Any], db: Database
) -> None:
    culled, whole = enqueue(db, spec("http://dhis2.test/api/a"), spec("http://dhis2.test/api/b"))
    for delivery_id in (culled, whole):
        age(db, delivery_id, DeliveryStatus.DEAD, utcnow() - timedelta(days=40))
    with db.session() as session:
        settings = Settings(env="test", database_url=db.url, body_cull_after_days=30, purge_after_days=365)
        session.execute(update(Delivery).where(Delivery.id == whole).values(created_at=utcnow()))
        assert retention.apply(session, settings).delivery_bodies_culled == 1

    with make_hub().admin() as admin:
        one = admin.post(f"/admin/outbox/{culled}/retry")
        many = admin.post("/admin/outbox/retry", json={"status": "dead"})
        detail = admin.get(f"/admin/outbox/{culled}").json()

    assert one.status_code == 409
    assert one.json()["detail"] == f"delivery {culled} cannot be sent again: retention has dropped its body"
    assert many.json() == {"retried": 1, "ids": [whole]}
    assert (load(db, culled).status, load(db, culled).body) == (DeliveryStatus.DEAD, b"")
    assert (detail["body"], detail["body_culled"]) == (None, True)


def test_hub_transactions_retain_runs_the_outbox_steps_too(db: Database, hub_cli: Callable[..., str]) -> None:
    delivered, pending = enqueue(db, spec("http://dhis2.test/api/a"), spec("http://dhis2.test/api/b"))
    age(db, delivered, DeliveryStatus.DELIVERED, utcnow() - timedelta(days=400))
    age(db, pending, DeliveryStatus.PENDING, utcnow() - timedelta(days=400))

    printed = " ".join(hub_cli("transactions", "retain").split())  # as the console may wrap it
    assert printed == (
        "0 bodies culled, 0 transactions purged; 1 delivery bodies culled, 1 deliveries purged; "
        "0 rerun tasks purged"
    )
    with db.session() as session:
        assert list(session.scalars(select(Delivery.id))) == [pending]
    assert load(db, pending).body == BODY
