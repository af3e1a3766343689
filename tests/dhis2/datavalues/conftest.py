"""Fixtures for data value tests: a database with the metadata the shared payloads need, an import
helper on it, and a running hub with a DHIS2 data client."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hub.db.session import Database
from hub.dhis2.config import Dhis2Target
from hub.dhis2.datavalues import log, service
from hub.dhis2.datavalues.summary import ImportSummary
from hub.settings import Settings
from tests.dhis2.datavalues import metadata

ROOTS = ("ImspTQPwCqd", metadata.ROOT, metadata.ADX_ROOT)
# the shared aggregate export shares its category options for data writing with this group only
DATA_GROUP = "OPVIvvXzNTw"
CLIENT = ("dhis2-partner", "partner-password-1")
TODAY = date(2021, 6, 1)  # the shared payloads report 2018-2021 periods


@pytest.fixture
def loaded(db: Database, shared_data: Path) -> Database:
    metadata.load_shared(db, shared_data)
    metadata.load(db, metadata.dataset_b())
    metadata.load(db, metadata.adx())
    return db


Importer = Callable[..., ImportSummary]


@pytest.fixture
def run_import(loaded: Database) -> Importer:
    """``run_import(body, fmt, **params)``: one logged import; roots, roles, targets and today overridable."""

    def run(
        body: bytes,
        fmt: str = "json",
        *,
        roots: tuple[str, ...] = ROOTS,
        roles: tuple[str, ...] = (DATA_GROUP,),
        targets: list[Dhis2Target] | None = None,
        today: date = TODAY,
        **params: str,
    ) -> ImportSummary:
        transaction_id, _ = log.open_entry(
            loaded,
            client="tester",
            method="POST",
            path="/api/dataValueSets",
            query="",
            headers={},
            body=None,
            size=len(body),
            instance="tester-instance",
        )
        options = service.ImportOptions(fmt=fmt, params=params, client="tester", roots=roots, roles=roles)
        return service.import_values(
            loaded,
            source=io.BytesIO(body),
            options=options,
            transaction_id=transaction_id,
            targets=targets or [],
            settings=Settings(env="test"),
            today=today,
        )

    return run


def hub_config(**dhis2: Any) -> dict[str, Any]:
    return {
        "clients": [
            {
                "client_id": CLIENT[0],
                "name": "Partner",
                "roles": ["dhis2", DATA_GROUP],
                "password_env": "HUB_TEST_DHIS2_CLIENT_PW",
                "org_units": list(ROOTS),
            }
        ],
        "dhis2": {"data_roles": ["dhis2"], **dhis2},
    }


@pytest.fixture
def dhis2_hub(loaded: Database, make_hub: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HUB_TEST_DHIS2_CLIENT_PW", CLIENT[1])
    return make_hub(hub_config())
