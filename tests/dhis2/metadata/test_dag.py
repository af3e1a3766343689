"""The Airflow DAG, run for real with ``dag.test()`` against a stand-in DHIS2."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from hub.db.session import Database
from hub.dhis2.metadata import models
from hub.settings import get_settings
from tests.dhis2.metadata.fake_dhis2 import BASE, FakeDhis2, org_unit

DAG_FILE = Path(__file__).resolve().parents[3] / "dags" / "dhis2_metadata_sync.py"


def _load_dag() -> Any:
    # dag.test() in Airflow 3 needs the DAG from its file in the DAGs folder, not a copy
    spec = importlib.util.spec_from_file_location("dhis2_metadata_sync_dag", DAG_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dhis2_metadata_sync()


@pytest.mark.usefixtures("airflow_db")
def test_dag_syncs_with_the_airflow_connection(
    sqlite_url: str, dhis2: FakeDhis2, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one backend proves the DAG's wiring; the pipeline tests run on SQLite and PostgreSQL
    database_url = sqlite_url
    dhis2.collections["organisationUnits"] = [org_unit("OrgUnit0000", "Country")]
    connection = {
        "conn_type": "http",
        "host": BASE,
        "login": "hub",
        "password": "district-secret",
        "extra": {"version": "2.39", "source": "national"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_DHIS2_DEFAULT", json.dumps(connection))
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        run = _load_dag().test()
    finally:
        get_settings.cache_clear()

    assert run.state == "success"
    assert "/api/39/organisationUnits" in dhis2.paths
    with Database(database_url).session() as session:
        assert session.get(models.OrgUnit, "OrgUnit0000") is not None
        assert session.get(models.MetadataSyncState, "national") is not None
