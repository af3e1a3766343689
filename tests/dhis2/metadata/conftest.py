"""Fixtures for the metadata cache: the shared DHIS2 exports, imported; a hub with a DHIS2 client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.db.session import Database
from hub.dhis2.metadata.importer import import_metadata
from hub.dhis2.metadata.stream import read_export
from tests.dhis2.metadata.fake_dhis2 import dhis2  # noqa: F401 - a fixture

EXPORTS = ("setup-metadata.json", "aggregate-metadata.json", "tracker-metadata.json")
CLIENT = ("dhis2-app", "dhis2-app-password")


@pytest.fixture
def exports(shared_data: Path) -> list[Path]:
    return [shared_data / "dhis2" / name for name in EXPORTS]


@pytest.fixture
def loaded(db: Database, exports: list[Path]) -> Database:
    """The test database with every shared DHIS2 metadata export imported."""
    for path in exports:
        with path.open("rb") as fh, db.session() as session:
            assert import_metadata(session, source=read_export(fh)).status == "OK"
    return db


def export_objects(path: Path) -> dict[str, list[dict[str, Any]]]:
    return json.loads(path.read_text())


@pytest.fixture
def hub_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("DHIS2_APP_PASSWORD", CLIENT[1])
    return {
        "clients": [
            {
                "client_id": CLIENT[0],
                "name": "DHIS2 app",
                "roles": ["dhis2", "partner"],
                "password_env": "DHIS2_APP_PASSWORD",
                "org_units": ["O6uvpzGd5pu"],
            }
        ],
        "dhis2": {"system": {"version": "2.40.3"}},
    }


@pytest.fixture
def dhis2_hub(make_hub: Any, loaded: Database, hub_config: dict[str, Any]) -> Any:
    """A hub over the loaded cache, with the client ``dhis2-app``."""
    return make_hub(hub_config)
