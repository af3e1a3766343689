"""Keep the hub's DHIS2 metadata cache in step with the ``metadata_source`` DHIS2.

Each run pages through every cached type (org units first, data sets last) and upserts it
through the same importer as ``hub dhis2 metadata import``. After the first full pull, runs
only ask for ``lastUpdated:gt:<watermark>``; the watermark is the source's clock when the
previous successful run *started*, so an object changed while a sync was running is fetched
again next time rather than missed. A failed run keeps the old watermark.

Incremental runs also ask ``/api/deletedObjects`` (DHIS2 2.30+) what was deleted since the
watermark, type by type, and remove those objects from the cache with their owned and link rows
(a data set's org units and elements, ...) before upserting that type's changes, so an object
deleted and created again since is kept. They are counted as ``deleted``.

The Airflow DAG ``dags/dhis2_metadata_sync.py`` and ``hub run dhis2-metadata-sync`` call
these same functions.

Example::

    with Dhis2Client(config) as dhis2, db.session() as session:
        result = sync_metadata(session, client=dhis2, source="national")
    result.counts["OrganisationUnit"]["created"]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from adapters.dhis2 import Dhis2Client
from adapters.dhis2 import Dhis2Config as AdapterConfig
from adapters.dhis2.deleted_objects import FIRST_VERSION as FIRST_DELETED_OBJECTS_VERSION
from hub.db.session import Database
from hub.dhis2 import config as dhis2_settings
from hub.dhis2.metadata.deletion import delete_objects
from hub.dhis2.metadata.importer import import_metadata
from hub.dhis2.metadata.models import MetadataSyncState
from hub.dhis2.metadata.report import Stats
from hub.dhis2.metadata.schema import OBJECT_TYPES, ObjectType, format_timestamp, parse_timestamp
from hub.pipelines.dhis2_connection import dhis2_config
from hub.settings import Settings

PAGE_SIZE = 500
# DHIS2's metadata-sync field preset: every property the object owns, references as {id}.
FIELDS = ":owner"


@dataclass
class SyncResult:
    source: str
    since: datetime | None
    watermark: datetime
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "since": format_timestamp(self.since),
            "watermark": format_timestamp(self.watermark),
            "counts": self.counts,
            "errors": self.errors,
        }


def _source_clock(client: Dhis2Client, fallback: Callable[[], datetime]) -> datetime:
    """The source's own time: its ``lastUpdated`` values are on its clock, not the hub's."""
    # fetched afresh (client.system_info is cached) and unversioned, as the endpoint is in every release
    info = client.body(client.send("GET", "system/info", versioned=False))
    server_date = parse_timestamp(info.get("serverDate"))
    return server_date or fallback()


def _forget_deleted(
    session: Session, client: Dhis2Client, object_type: ObjectType, since: datetime, page_size: int
) -> int:
    """Remove the objects of ``object_type`` the source deleted at or after ``since``; returns how
    many the cache held."""
    removed = 0
    for page in client.deleted_objects(object_type.simple_name, deleted_at=since, page_size=page_size):
        removed += delete_objects(session, object_type=object_type, uids=[d.uid for d in page])
    return removed


def sync_metadata(
    session: Session,
    *,
    client: Dhis2Client,
    source: str,
    page_size: int = PAGE_SIZE,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SyncResult:
    """Pull what changed on ``source`` since the last successful sync into the cache; move the watermark."""
    started = _source_clock(client, now)
    state = session.get(MetadataSyncState, source)
    since = state.watermark if state else None
    since_filter = [f"lastUpdated:gt:{format_timestamp(since)}"] if since else None
    # a first, full pull has nothing to forget; DHIS2 before 2.30 cannot say what it deleted
    deleted_since = since if since and client.version >= FIRST_DELETED_OBJECTS_VERSION else None
    result = SyncResult(source=source, since=since, watermark=started)
    for object_type in OBJECT_TYPES:
        stats = Stats()
        if deleted_since:
            stats.deleted += _forget_deleted(session, client, object_type, deleted_since, page_size)
        for page in client.pages(object_type.key, fields=FIELDS, filter=since_filter, page_size=page_size):
            report = import_metadata(session, source=((object_type.key, obj) for obj in page), atomic=False)
            for type_report in report.type_reports.values():
                stats.add(type_report.stats)
                result.errors += len(type_report.object_reports)
        result.counts[object_type.simple_name] = stats.to_dict()
    if state is None:
        state = MetadataSyncState(source=source)
        session.add(state)
    state.watermark = started
    state.finished_at = now()
    state.counts = result.counts
    session.flush()
    return result


def sync_into(database: Database, *, config: AdapterConfig, source: str) -> SyncResult:
    """One sync in one DB transaction: the watermark moves only if every page was stored."""
    with Dhis2Client(config) as client, database.session() as session:
        return sync_metadata(session, client=client, source=source)


def _api_version(pin: str | int | None) -> int | None:
    """``"2.39"`` or ``"39"`` -> 39: the adapter then calls ``/api/39/...``."""
    if not pin:
        return None
    parts = str(pin).split(".")
    return int(parts[1] if len(parts) > 1 else parts[0])


def adapter_config(target: dhis2_settings.Dhis2Target) -> AdapterConfig:
    """The adapter's connection settings for a target of the hub's ``dhis2:`` config."""
    secret = target.auth.secret()
    api_version = _api_version(target.version)
    if target.auth.type == "apitoken":
        return AdapterConfig(base_url=target.base_url, personal_access_token=secret, api_version=api_version)
    return AdapterConfig(
        base_url=target.base_url, username=target.auth.username, password=secret, api_version=api_version
    )


def connection_config(
    *, host: str, login: str | None, password: str | None, port: int | None, extra: dict[str, Any]
) -> AdapterConfig:
    """The adapter's settings from an Airflow connection's fields; ``extra.version`` pins the API."""
    config = dhis2_config(host=host, login=login, password=password, port=port, extra=extra)
    return config.model_copy(update={"api_version": _api_version(extra.get("version"))})


def run(settings: Settings) -> dict[str, Any]:
    """``hub run dhis2-metadata-sync``: sync from the configured ``metadata_source``."""
    dhis2 = dhis2_settings.load(settings.config)
    if not dhis2.metadata_source:
        raise ValueError("dhis2.metadata_source is not set in the hub's YAML file")
    database = Database(settings.database_url)
    try:
        config = adapter_config(dhis2.target(dhis2.metadata_source))
        return sync_into(database, config=config, source=dhis2.metadata_source).to_dict()
    finally:
        database.dispose()
