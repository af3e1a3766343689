"""DHIS2 metadata into the hub's cache, hourly: org units, data elements, data sets, combos, option sets;
what DHIS2 deleted since the previous run (``/api/deletedObjects``) leaves the cache.

Connection ``dhis2_default``: host = the DHIS2 URL, login and password (or a personal access
token), ``extra.version`` to pin the API version (``"2.39"``), ``extra.source`` to name the
watermark (default: the connection id). The hub's database is ``HUB_DATABASE_URL``.
Run it once by hand: ``airflow dags trigger dhis2_metadata_sync``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Connection, dag, task

DHIS2_CONNECTION = "dhis2_default"


@dag(
    schedule=timedelta(hours=1),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["dhis2", "metadata"],
)
def dhis2_metadata_sync() -> None:
    @task
    def sync() -> dict[str, Any]:
        from hub.db.session import Database
        from hub.pipelines.dhis2_metadata_sync import connection_config, sync_into
        from hub.settings import get_settings

        conn = Connection.get(DHIS2_CONNECTION)
        extra = conn.extra_dejson
        config = connection_config(
            host=conn.host or "", login=conn.login, password=conn.password, port=conn.port, extra=extra
        )
        database = Database(get_settings().database_url)
        try:
            return sync_into(database, config=config, source=extra.get("source", DHIS2_CONNECTION)).to_dict()
        finally:
            database.dispose()

    sync()


dhis2_metadata_sync()
