"""The outbox gauges, read from the DB at scrape time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from hub.db.base import utcnow
from hub.db.session import Database
from hub.outbox.models import Delivery, DeliveryStatus
from hub.outbox.service import gauges
from tests.outbox.support import enqueue, spec


def samples(families: Any) -> dict[tuple[str, str], float]:
    return {(s.name, s.labels.get("status", "")): s.value for f in families for s in f.samples}


def test_gauges_on_an_empty_outbox(db: Database) -> None:
    values = samples(gauges(db)())
    assert values[("hub_outbox_oldest_age_seconds", "")] == 0.0
    assert {values[("hub_outbox_depth", s)] for s in ("pending", "in_flight", "failed", "dead")} == {0.0}


def test_gauges_count_by_status_and_age_the_oldest_unsent(db: Database, make_hub: Callable[..., Any]) -> None:
    ids = enqueue(db, *(spec(f"http://target.test/{i}") for i in range(7)))
    an_hour_ago = utcnow() - timedelta(hours=1)
    statuses = [DeliveryStatus.IN_FLIGHT, DeliveryStatus.FAILED, DeliveryStatus.DEAD, DeliveryStatus.DEAD]
    statuses += [DeliveryStatus.DELIVERED]
    with db.session() as session:
        for delivery_id, status in zip(ids, statuses, strict=False):
            session.execute(update(Delivery).where(Delivery.id == delivery_id).values(status=status))
        # the oldest row overall is delivered: it must not count towards the age
        session.execute(
            update(Delivery).where(Delivery.id == ids[4]).values(created_at=an_hour_ago - timedelta(hours=5))
        )
        session.execute(update(Delivery).where(Delivery.id == ids[0]).values(created_at=an_hour_ago))

    values = samples(gauges(db)())

    assert values[("hub_outbox_depth", "pending")] == 2
    assert values[("hub_outbox_depth", "in_flight")] == 1
    assert values[("hub_outbox_depth", "failed")] == 1
    assert values[("hub_outbox_depth", "dead")] == 2
    assert 3600 <= values[("hub_outbox_oldest_age_seconds", "")] < 3660

    with make_hub().admin() as admin:
        scraped = samples(text_string_to_metric_families(admin.get("/metrics").text))
    assert scraped[("hub_outbox_depth", "dead")] == 2
    assert scraped[("hub_outbox_oldest_age_seconds", "")] >= 3600
