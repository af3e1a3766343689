"""Prometheus metrics: request counts and durations by channel and status, plus DB-derived gauges.

The status is the transaction's, or ``Rejected`` for a request refused before any transaction
was opened (400, 401, 403, 404, 405, 413, 415, 429; the channel is "" when none matched).

Counters live in one process-wide registry; gauges that describe shared state
(outbox depth and age, mediator heartbeat age) are read from the DB at scrape time
by readers the app lists (``app.state.gauges``). When the database cannot be read the scrape still
answers, with the counters and ``hub_database_up 0`` in place of the DB gauges: a failed scrape would
lose the counters too and look, to Prometheus, like the hub itself being down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import cache

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("hub.metrics")

REGISTRY = CollectorRegistry()

REQUESTS = Counter("hub_requests", "Requests through channels", ["channel", "status"], registry=REGISTRY)
DURATION = Histogram(
    "hub_request_duration_seconds",
    "Time from receipt to response, by channel and transaction status",
    ["channel", "status"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

REJECTED = "Rejected"

GaugeReader = Callable[[], Iterable[Metric]]


@cache
def _series(channel: str, status: str) -> tuple[Counter, Histogram]:
    """One channel's and status's children, looked up once rather than on every request."""
    return REQUESTS.labels(channel, status), DURATION.labels(channel, status)


def observe_request(channel: str, status: str, seconds: float) -> None:
    requests, duration = _series(channel, status)
    requests.inc()
    duration.observe(seconds)


class _Readers(Collector):
    def __init__(self, readers: list[GaugeReader]) -> None:
        self.readers = readers

    def collect(self) -> Iterable[Metric]:
        families: list[Metric] = []
        up = 1
        for reader in self.readers:
            try:
                families.extend(reader())
            except Exception as exc:  # a scrape must answer whatever the database does
                up = 0
                # The type only: a database error's text holds the statement and its values.
                log.warning("a metrics gauge could not be read", extra={"error": type(exc).__name__})
        yield from families
        yield GaugeMetricFamily(
            "hub_database_up", "1 when this scrape read the DB-derived gauges, 0 when it could not", value=up
        )


def exposition(readers: list[GaugeReader]) -> bytes:
    """The text format: process-wide counters followed by the DB gauges read now."""
    scrape = CollectorRegistry()
    scrape.register(_Readers(readers))
    return generate_latest(REGISTRY) + generate_latest(scrape)
