"""Operations: health, readiness, metrics, start-up refusal and crash recovery."""

from __future__ import annotations

import httpx
import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from hub.api.app import NotMigrated, prepare
from hub.channels import service as channels
from hub.db.migrate import alembic_config
from hub.runtime import Runtime
from hub.transactions import service as transactions
from hub.transactions.models import Transaction
from tests.conftest import channel, hub_settings


def test_health_ready_and_metrics_are_public(make_hub, upstream, monkeypatch):
    monkeypatch.setenv("P_PASS", "partner-pass-1")
    hub = make_hub(
        {
            "clients": [{"client_id": "p", "name": "P", "roles": ["partner"], "password_env": "P_PASS"}],
            "channels": [channel("metered", r"/metered", upstream)],
        }
    )
    assert httpx.get(hub.url + "/health").json() == {"status": "ok"}
    assert httpx.get(hub.url + "/ready").json() == {"status": "ready"}
    with hub.client("p", "partner-pass-1") as c:
        c.get("/metered").raise_for_status()
    text = httpx.get(hub.url + "/metrics").text
    assert 'hub_requests_total{channel="metered",status="Successful"}' in text
    assert 'hub_request_duration_seconds_count{channel="metered",status="Successful"}' in text
    assert "hub_outbox_depth" in text and "hub_outbox_oldest_age_seconds" in text


@pytest.mark.parametrize("sent", [b"caf\xe9", b"\xff\xfe", b"ok-but-" + b"x" * 300])
def test_a_request_id_that_cannot_be_kept_is_replaced(make_hub, sent):
    hub = make_hub()
    r = httpx.get(f"{hub.url}/health", headers={"X-Request-ID": sent})
    assert r.status_code == 200
    assert r.headers["x-request-id"].encode() != sent and len(r.headers["x-request-id"]) >= 16


def test_ready_is_503_when_schema_is_behind(make_hub, database_url):
    hub = make_hub()
    command.downgrade(alembic_config(database_url), "base")
    r = httpx.get(hub.url + "/ready")
    assert r.status_code == 503 and "hub db upgrade" in r.json()["detail"]


def test_refuses_to_start_on_an_unmigrated_database(database_url):
    command.downgrade(alembic_config(database_url), "base")
    runtime = Runtime.create(hub_settings(database_url))
    with pytest.raises(NotMigrated, match="run `hub db upgrade`"):
        prepare(runtime)
    runtime.db.dispose()


def test_transactions_left_processing_by_a_crash_are_recovered(db, database_url):
    with db.session() as session:
        stuck, _ = transactions.open_transaction(
            session,
            transactions.Opening("crashed", "POST", "/x", "", "c", None, None, {}, '{"a":1}', 7, True),
        )
    runtime = Runtime.create(hub_settings(database_url), db)
    prepare(runtime)
    with db.session() as session:
        row = session.scalars(select(Transaction).where(Transaction.id == stuck)).one()
    assert row.status == "Failed" and "stopped" in row.error["message"]
    assert row.request_body == '{"a":1}', "the request survives for a rerun"


def test_settle_heap_takes_the_start_up_heap_out_of_the_collectors_way() -> None:
    import gc

    from hub.runtime import GC_YOUNG_THRESHOLD, settle_heap

    before = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 10_000, "the modules and models loaded so far are frozen"
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_database_that_is_down_or_locked_is_a_503_to_send_again(make_hub, monkeypatch):
    def locked(_session):
        raise OperationalError("SELECT channels.id FROM channels", {}, Exception("database is locked"))

    hub = make_hub()
    monkeypatch.setattr(channels, "list_channels", locked)
    with hub.admin() as admin:
        r = admin.get("/admin/channels")
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == "5" and "SELECT" not in r.text
