"""``hub outbox list|retry`` and ``hub worker --once`` run in-process against the test database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.db.session import Database
from hub.outbox import cli, service
from hub.outbox.cli import outbox, worker
from hub.outbox.models import Delivery, DeliveryStatus
from hub.settings import get_settings
from tests.outbox.support import enqueue, load, spec


@pytest.fixture(autouse=True)
def _settings(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_OUTBOX_BACKOFF_MAX_S", "0.1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def kill(db: Database, delivery_id: int, status: DeliveryStatus) -> None:
    with db.session() as session:
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(status=status, attempts=4))


def test_list_shows_a_table_filtered_by_status(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.console, "width", 250)
    dead, _ = enqueue(db, spec("http://dhis2.test/dead", route_name="dhis2"), spec("http://fhir.test/p"))
    kill(db, dead, DeliveryStatus.DEAD)

    result = CliRunner().invoke(outbox, ["list", "--status", "dead"])

    assert result.exit_code == 0, result.output
    assert "http://dhis2.test/dead" in result.output and "4/5" in result.output
    assert "http://fhir.test/p" not in result.output


def test_retry_by_id_and_by_filter(db: Database) -> None:
    dead, failed, delivered = enqueue(db, *(spec(f"http://t.test/{i}", route_name="dhis2") for i in range(3)))
    kill(db, dead, DeliveryStatus.DEAD)
    kill(db, failed, DeliveryStatus.FAILED)
    kill(db, delivered, DeliveryStatus.DELIVERED)

    by_id = CliRunner().invoke(outbox, ["retry", str(dead), str(delivered)])
    assert by_id.exit_code == 1
    assert (
        "1 deliveries queued again" in by_id.output and f"delivery {delivered} is delivered" in by_id.output
    )
    assert (load(db, dead).status, load(db, dead).attempts) == (DeliveryStatus.PENDING, 0)

    by_filter = CliRunner().invoke(outbox, ["retry", "--route", "dhis2", "--status", "failed"])
    assert by_filter.exit_code == 0 and "1 deliveries queued again" in by_filter.output
    assert load(db, failed).status == DeliveryStatus.PENDING
    assert load(db, delivered).status == DeliveryStatus.DELIVERED

    assert CliRunner().invoke(outbox, ["retry"]).exit_code == 2, "no ids and no filter is a usage error"


def test_retry_by_filter_commits_a_batch_at_a_time(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "RETRY_BATCH", 10)
    matched = 2 * 10 + 7
    ids = enqueue(db, *(spec(f"http://t.test/{i}", route_name="bulk") for i in range(matched + 2)))
    culled, delivered = ids[-2:]
    with db.session() as session:
        session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(status=DeliveryStatus.DEAD))
        session.execute(update(Delivery).where(Delivery.id == culled).values(body=service.CULLED))
        session.execute(
            update(Delivery).where(Delivery.id == delivered).values(status=DeliveryStatus.DELIVERED)
        )

    def statuses() -> dict[DeliveryStatus, int]:
        with db.session() as session:
            query = (
                select(Delivery.status, func.count()).where(Delivery.id.in_(ids)).group_by(Delivery.status)
            )
            return dict(session.execute(query).all())  # type: ignore[arg-type]

    reset, calls = service._reset, []

    def stops_in_the_third_batch(session: Session, where: Any) -> list[int]:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the process stops here")
        return reset(session, where)

    monkeypatch.setattr(service, "_reset", stops_in_the_third_batch)
    stopped = CliRunner().invoke(outbox, ["retry", "--route", "bulk"])
    assert stopped.exit_code != 0
    assert statuses() == {DeliveryStatus.PENDING: 20, DeliveryStatus.DEAD: 8, DeliveryStatus.DELIVERED: 1}, (
        "the two batches before the stop were committed"
    )

    monkeypatch.setattr(service, "_reset", reset)
    again = CliRunner().invoke(outbox, ["retry", "--route", "bulk"])
    assert again.exit_code == 0, again.output
    assert "7 deliveries queued again" in again.output, "the rest; the one retention culled is left"
    assert statuses() == {
        DeliveryStatus.PENDING: matched,
        DeliveryStatus.DEAD: 1,
        DeliveryStatus.DELIVERED: 1,
    }


def test_worker_once_drains_what_is_due_and_exits(
    db: Database, upstream: str, upstream_log: Callable[[], list[dict[str, Any]]]
) -> None:
    ids = enqueue(db, *(spec(f"{upstream}/cli/{i}") for i in range(5)))

    result = CliRunner().invoke(worker, ["--once", "--concurrency", "2"])

    assert result.exit_code == 0, result.output
    assert {load(db, i).status for i in ids} == {DeliveryStatus.DELIVERED}
    assert sorted(r["path"] for r in upstream_log()) == [f"/cli/{i}" for i in range(5)]
