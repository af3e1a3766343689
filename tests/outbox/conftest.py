"""Outbox fixtures: test settings with quick back-off and a worker on the test's database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hub.db.session import Database
from hub.outbox.worker import Worker
from hub.settings import Settings
from tests.conftest import hub_settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    return hub_settings(database_url)


@pytest.fixture
def make_worker(db: Database, settings: Settings) -> Iterator[Callable[..., Worker]]:
    """``make_worker(**setting_overrides)``: a Worker on the test database, closed at teardown."""
    made: list[Worker] = []

    def make(**overrides: Any) -> Worker:
        worker = Worker(db, settings.model_copy(update=overrides), concurrency=4)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.close()


@pytest.fixture
def worker(make_worker: Callable[..., Worker]) -> Worker:
    return make_worker()
