"""The option-set DAG in a real Airflow (``dag.test()``), with credentials from an Airflow connection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.db.session import Database
from hub.pipelines.terminology_option_sets import build_payload
from terminology import icd10
from tests.conftest import ROOT

AIRFLOW = Path(sys.executable).with_name("airflow")
CONNECTION = {"conn_type": "http", "host": "http://dhis2.test", "login": "admin", "password": "district"}


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for an Airflow with its own metadata database, migrated once per session."""
    home = tmp_path_factory.mktemp("airflow")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW_CONN_DHIS2_DEFAULT": json.dumps(CONNECTION),
    }
    subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    return env


# The DAG only wires the pipeline, whose database reads test_dhis2_option_sets covers on both
# backends; one Airflow run takes ~15 s, so it runs on SQLite alone.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_dag_pushes_the_option_set(airflow_env: dict[str, str], database_url: str) -> None:
    value_set = f"{icd10.URL}?fhir_vs=isa/J09-J18"
    env = {**airflow_env, "HUB_DATABASE_URL": database_url}
    conf = {"value_set_url": value_set, "option_set_code": "ICD10_FLU_PNEUMONIA"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.terminology.dag_run", json.dumps(conf)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["state"] == "success"
    assert result["tasks"] == {"export": "success", "push_to_dhis2": "success"}
    db = Database(database_url)
    try:
        expected = build_payload(db, value_set_url=value_set, code="ICD10_FLU_PNEUMONIA")
    finally:
        db.dispose()
    assert result["posted"] == [expected]
    assert set(result["auth"]) == {"Basic YWRtaW46ZGlzdHJpY3Q="}  # from the Airflow connection
