"""Runs the option-set DAG once with ``dag.test()`` against a DHIS2 stand-in (``responses``) and
prints what happened as JSON. ``test_dag.py`` starts it in a process of its own, so Airflow reads
the configuration (AIRFLOW_HOME, connections) that test gives it, whatever else the test run did.

    python -m tests.terminology.dag_run '{"value_set_url": "..."}'
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import responses

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "terminology_option_sets.py"
DHIS2 = "http://dhis2.test"
REPORT = {"status": "OK", "stats": {"created": 1, "total": 1}, "typeReports": []}


def main() -> None:
    spec = importlib.util.spec_from_file_location("terminology_option_sets_dag", DAG_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.terminology_option_sets()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as dhis2:
        dhis2.get(re.compile(f"{DHIS2}/api/optionSets/.*"), status=404, json={"httpStatusCode": 404})
        dhis2.post(f"{DHIS2}/api/metadata", json=REPORT)
        run = dag.test(run_conf=json.loads(sys.argv[1]))
        posted = [json.loads(c.request.body) for c in dhis2.calls if c.request.method == "POST"]
        auth = [c.request.headers.get("Authorization") for c in dhis2.calls]
    print(
        json.dumps(
            {
                "state": str(run.state),
                "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()},
                "posted": posted,
                "auth": auth,
            }
        )
    )


if __name__ == "__main__":
    main()
