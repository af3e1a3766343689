"""DHIS2 option sets from the hub's value sets, daily: export the value set (ICD-10 codes by
default) from the hub's database, then push it to DHIS2 when it changed.

Connection ``dhis2_default``, as for ``dhis2_metadata_sync``: host = the DHIS2 URL, login and
password (or a personal access token), ``extra.version`` to pin the API version. The hub's
database is ``HUB_DATABASE_URL``.
Run it once by hand: ``airflow dags trigger terminology_option_sets --conf '{"dry_run": true}'``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Connection, Param, dag, task

from terminology.icd10 import CODES_VALUE_SET

DHIS2_CONNECTION = "dhis2_default"


@dag(
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["terminology", "dhis2"],
    params={
        "value_set_url": Param(CODES_VALUE_SET, type="string", description="the value set to export"),
        "option_set_code": Param(
            None, type=["null", "string"], description="DHIS2 code (default: from the name)"
        ),
        "dry_run": Param(False, type="boolean", description="have DHIS2 validate the import, not commit it"),
    },
)
def terminology_option_sets() -> None:
    @task
    def export(**context: Any) -> dict[str, Any]:
        from hub.db.session import Database
        from hub.pipelines.terminology_option_sets import build_payload
        from hub.settings import get_settings

        params = context["params"]
        db = Database(get_settings().database_url)
        try:
            return build_payload(db, value_set_url=params["value_set_url"], code=params["option_set_code"])
        finally:
            db.dispose()

    @task
    def push_to_dhis2(payload: dict[str, Any], **context: Any) -> dict[str, Any]:
        from adapters.dhis2 import Dhis2Client
        from hub.pipelines.dhis2_metadata_sync import connection_config
        from hub.pipelines.terminology_option_sets import push

        conn = Connection.get(DHIS2_CONNECTION)
        config = connection_config(
            host=conn.host or "",
            login=conn.login,
            password=conn.password,
            port=conn.port,
            extra=conn.extra_dejson,
        )
        with Dhis2Client(config) as client:
            return push(client, payload, dry_run=context["params"]["dry_run"]).summary()

    push_to_dhis2(export())


terminology_option_sets()
