"""Mediator registry: registration, heartbeats, config and the heartbeat-age gauge."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import select

from hub.db.base import utcnow
from hub.db.session import Database
from hub.mediators.models import Mediator
from hub.metrics import GaugeReader


def gauges(db: Database) -> GaugeReader:
    """A scrape-time reader of seconds since each mediator's last heartbeat."""

    def read() -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "hub_mediator_heartbeat_age_seconds",
            "Seconds since the mediator's last heartbeat",
            labels=["urn"],
        )
        now = utcnow()
        with db.session() as session:
            rows = session.execute(
                select(Mediator.urn, Mediator.last_heartbeat_at).where(
                    Mediator.last_heartbeat_at.is_not(None)
                )
            ).all()
        for urn, last in rows:
            family.add_metric([urn], (now - last).total_seconds())
        yield family

    return read
