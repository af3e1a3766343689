"""``client.tracker``: importing tracked entities, enrollments and events on any release."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from adapters.dhis2.errors import UnsupportedByVersion
from adapters.dhis2.imports import ImportStrategy, flag, json_body, post_import
from adapters.dhis2.jobs import Job
from adapters.dhis2.legacy_tracker import legacy_calls
from adapters.dhis2.tracker_report import TrackerImportReport
from adapters.dhis2.version import Dhis2Version

if TYPE_CHECKING:
    from adapters.dhis2.client import Dhis2Client

Endpoint = Literal["auto", "tracker", "legacy"]
AtomicMode = Literal["ALL", "OBJECT"]

NEW_TRACKER = Dhis2Version(2, 36)
LEGACY_REMOVED = Dhis2Version(2, 42)


class Tracker:
    """Tracker imports, reachable as ``client.tracker``.

    ``payload`` is always in the ``/api/tracker`` shape (nested or flat ``trackedEntities``,
    ``enrollments``, ``events``). With ``endpoint="auto"`` it goes to ``/api/tracker`` from
    2.36, and before 2.36 it is converted (``enrolledAt`` → ``enrollmentDate``, ``occurredAt`` →
    ``incidentDate``/``eventDate``, ``scheduledAt`` → ``dueDate``, ``trackedEntity`` →
    ``trackedEntityInstance`` …) and sent to ``/api/trackedEntityInstances``, ``/api/enrollments``
    and ``/api/events`` in turn. ``endpoint="legacy"`` forces the old endpoints where they
    still exist (before 2.42); ``endpoint="tracker"`` refuses releases before 2.36.

    The result is one :class:`TrackerImportReport`. With ``async_=True`` the import runs as a
    DHIS2 job whose report is fetched once it completes. ``atomic_mode`` applies to
    ``/api/tracker`` only; ``dry_run`` validates without saving.

    Example::

        report = client.tracker.import_(payload)
        report = client.tracker.import_(payload, async_=True, atomic_mode="OBJECT")
    """

    def __init__(self, client: Dhis2Client) -> None:
        self._client = client

    def import_(
        self,
        payload: Mapping[str, Any],
        *,
        async_: bool = False,
        endpoint: Endpoint = "auto",
        import_strategy: ImportStrategy = "CREATE_AND_UPDATE",
        atomic_mode: AtomicMode | None = None,
        dry_run: bool = False,
        params: Mapping[str, Any] | None = None,
    ) -> TrackerImportReport:
        # Resending after a lost reply is harmless only if every object names its UID: others
        # would be created twice.
        options = _Options(async_, import_strategy, dry_run, params or {}, _identified(payload))
        if _uses_new_endpoint(endpoint, self._client.version):
            return self._import_new(payload, options, atomic_mode)
        if atomic_mode is not None:
            raise UnsupportedByVersion("atomic_mode exists on /api/tracker only (DHIS2 2.36+)")
        return self._import_legacy(payload, options)

    def _import_new(
        self, payload: Mapping[str, Any], options: _Options, atomic_mode: AtomicMode | None
    ) -> TrackerImportReport:
        query: dict[str, Any] = {"importStrategy": options.import_strategy, **options.params}
        if atomic_mode:
            query["atomicMode"] = atomic_mode
        if options.dry_run:
            query["importMode"] = "VALIDATE"
        if not options.async_:
            # 2.36 to 2.41 run tracker imports as jobs unless told otherwise.
            query["async"] = "false"
        return post_import(
            self._client,
            "tracker",
            TrackerImportReport.from_body,
            body=json_body(payload),
            params=query,
            async_=options.async_,
            job=Job.tracker,
            idempotent=options.idempotent,
            # 2.36 and 2.37 answer only the unversioned path; the reply does not change with it.
            versioned=False,
        )

    def _import_legacy(self, payload: Mapping[str, Any], options: _Options) -> TrackerImportReport:
        query = {"importStrategy": options.import_strategy, **options.params}
        if options.dry_run:
            query["dryRun"] = flag(options.dry_run)
        reports = [
            post_import(
                self._client,
                call.resource,
                partial(TrackerImportReport.from_legacy, call.tracker_type),
                body=json_body(call.body()),
                params=query,
                async_=options.async_,
                idempotent=options.idempotent,
            )
            for call in legacy_calls(payload)
        ]
        return TrackerImportReport.combine(reports)


@dataclass(frozen=True)
class _Options:
    async_: bool
    import_strategy: ImportStrategy
    dry_run: bool
    params: Mapping[str, Any]
    idempotent: bool


_UID_KEYS = {
    "trackedEntities": "trackedEntity",
    "enrollments": "enrollment",
    "events": "event",
    "relationships": "relationship",
}


def _identified(objects: Mapping[str, Any]) -> bool:
    """True when every object, nested ones included, carries its UID."""
    return all(
        obj.get(uid_key) and _identified(obj)
        for key, uid_key in _UID_KEYS.items()
        for obj in objects.get(key) or []
    )


def _uses_new_endpoint(endpoint: Endpoint, version: Dhis2Version) -> bool:
    if endpoint == "auto":
        return version >= NEW_TRACKER
    if endpoint == "tracker":
        if version < NEW_TRACKER:
            raise UnsupportedByVersion(f"/api/tracker exists from DHIS2 2.36; this server runs {version}")
        return True
    if version >= LEGACY_REMOVED:
        raise UnsupportedByVersion(
            f"DHIS2 {version} has no legacy tracker endpoints (trackedEntityInstances, enrollments, "
            "events were removed in 2.42); use endpoint='tracker' or 'auto'"
        )
    return False
