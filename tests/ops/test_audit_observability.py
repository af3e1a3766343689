"""Metrics that survive a database outage, and logs that keep statement values and URLs out."""

from __future__ import annotations

import logging

import pytest
import requests
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from hub import logs, metrics
from hub.db.session import Database
from hub.mediators import service as mediator_service
from hub.outbox import service as outbox_service
from tests.conftest import free_port

PATIENT_ID = "NID-8812-7731"


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    names = ("httpx", "httpcore", "alembic", "urllib3", "requests", "aiohttp", "sqlalchemy", "psycopg")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)


def test_metrics_answer_with_the_counters_when_the_database_is_down(db):
    metrics.observe_request("audit-metrics", "Successful", 0.01)
    up = metrics.exposition([outbox_service.gauges(db), mediator_service.gauges(db)]).decode()
    assert "hub_database_up 1.0" in up
    # Empty outbox: every status at 0 and an oldest age of 0, not missing series.
    assert 'hub_outbox_depth{status="pending"} 0.0' in up
    assert "hub_outbox_oldest_age_seconds 0.0" in up

    down_db = Database(f"postgresql+psycopg://hub:pw@127.0.0.1:{free_port()}/hub")
    try:
        down = metrics.exposition([outbox_service.gauges(down_db), mediator_service.gauges(db)]).decode()
    finally:
        down_db.dispose()
    assert "hub_database_up 0.0" in down
    assert 'hub_requests_total{channel="audit-metrics",status="Successful"}' in down
    assert "# TYPE hub_mediator_heartbeat_age_seconds gauge" in down, "readers that work still report"
    assert "hub_outbox_depth{" not in down


def _duplicate(db: Database) -> IntegrityError:
    with db.engine.connect() as conn:
        conn.execute(text("CREATE TEMPORARY TABLE audit_people (national_id VARCHAR(40) UNIQUE)"))
        conn.execute(text("INSERT INTO audit_people VALUES (:n)"), {"n": PATIENT_ID})
        try:
            conn.execute(text("INSERT INTO audit_people VALUES (:n)"), {"n": PATIENT_ID})
        except IntegrityError as exc:
            return exc
    raise AssertionError("no duplicate-key error")


def test_database_errors_are_logged_without_the_statement_values(db, capsys, restore_logging):
    exc = _duplicate(db)
    assert PATIENT_ID in str(exc), "SQLAlchemy (and PostgreSQL's DETAIL) repeat the values"
    log = logging.getLogger("hub.audit")
    for fmt in ("json", "console"):
        logs.configure(fmt, "DEBUG")
        try:
            raise RuntimeError("retention run failed") from exc
        except RuntimeError:
            log.exception("retention run failed; will retry next interval")
        log.error("unexpected: %s", exc)
    err = capsys.readouterr().err
    assert err.count("INSERT INTO audit_people") >= 4, "the error and its statement are still described"
    assert PATIENT_ID not in err


def test_debug_level_does_not_log_request_urls(upstream, capsys, restore_logging):
    logs.configure("json", "DEBUG")
    logging.getLogger("hub.audit").debug("debug is on")
    requests.get(f"{upstream}/Patient", params={"identifier": PATIENT_ID}, timeout=10)
    err = capsys.readouterr().err
    assert "debug is on" in err
    assert PATIENT_ID not in err
    assert not logging.getLogger("sqlalchemy.engine.Engine").isEnabledFor(logging.INFO)
