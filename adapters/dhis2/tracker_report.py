"""``TrackerImportReport``: the typed result of a tracker import, new endpoint or legacy ones."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import Field

from adapters.dhis2.import_report import ReportStatus, Stats
from adapters.dhis2.web_message import Wire, unwrap


class TrackerError(Wire):
    """One rejected object: ``error_code`` (E1000… on /api/tracker; absent on the legacy endpoints),
    ``tracker_type`` (TRACKED_ENTITY, ENROLLMENT, EVENT, RELATIONSHIP) and its ``uid``."""

    message: str = ""
    error_code: str | None = None
    tracker_type: str | None = None
    uid: str | None = None


class ValidationReport(Wire):
    error_reports: list[TrackerError] = Field(default_factory=list)
    warning_reports: list[TrackerError] = Field(default_factory=list)


class TrackerObjectReport(Wire):
    tracker_type: str | None = None
    uid: str | None = None
    index: int | None = None
    error_reports: list[TrackerError] = Field(default_factory=list)


class TrackerTypeReport(Wire):
    tracker_type: str | None = None
    stats: Stats = Field(default_factory=Stats)
    object_reports: list[TrackerObjectReport] = Field(default_factory=list)


class BundleReport(Wire):
    status: ReportStatus = ReportStatus.OK
    type_report_map: dict[str, TrackerTypeReport] = Field(default_factory=dict)
    stats: Stats = Field(default_factory=Stats)


class TrackerImportReport(Wire):
    """What DHIS2 did with a tracker import, whichever endpoint took it.

    From ``/api/tracker`` (2.36+) this is DHIS2's own ImportReport, from the synchronous
    response (HTTP 409 when the status is ERROR: parsed, not raised) or from the job report
    of an asynchronous import. From the legacy endpoints (before 2.36) the ImportSummaries of
    each call are folded into the same shape by :meth:`from_legacy`: ``created`` counts
    DHIS2's ``imported``, and each conflict becomes a ``TrackerError``.

    Example::

        report = client.tracker.import_(payload)
        if report.status is ReportStatus.ERROR:
            for error in report.errors:
                print(error.tracker_type, error.uid, error.error_code, error.message)
        report.stats.created
    """

    status: ReportStatus = ReportStatus.OK
    validation_report: ValidationReport = Field(default_factory=ValidationReport)
    stats: Stats = Field(default_factory=Stats)
    bundle_report: BundleReport | None = None
    message: str | None = None
    http_status: int = 200

    @property
    def errors(self) -> list[TrackerError]:
        return self.validation_report.error_reports

    @classmethod
    def from_body(cls, body: Any, http_status: int = 200) -> TrackerImportReport:
        """Parse an ImportReport of ``/api/tracker``; ``ValueError`` if the body is none."""
        payload, message = unwrap(body) if isinstance(body, Mapping) else (None, None)
        if not isinstance(payload, Mapping) or "status" not in payload:
            raise ValueError("the response holds no tracker ImportReport")
        report = cls.model_validate(payload)
        return report.model_copy(update={"http_status": http_status, "message": message or report.message})

    @classmethod
    def from_legacy(cls, tracker_type: str, body: Any, http_status: int = 200) -> TrackerImportReport:
        """Parse the ImportSummaries a legacy endpoint returns (wrapped in a WebMessage, or plain
        from a task summary) for objects of ``tracker_type``; ``ValueError`` if the body is none."""
        payload, message = unwrap(body) if isinstance(body, Mapping) else (None, None)
        if not isinstance(payload, Mapping) or "importSummaries" not in payload:
            raise ValueError("the response holds no ImportSummaries")
        counts = {name: int(payload.get(source, 0)) for name, source in _LEGACY_COUNTS.items()}
        return cls(
            status=_LEGACY_STATUS.get(str(payload.get("status")), ReportStatus.ERROR),
            validation_report=ValidationReport(
                error_reports=_legacy_errors(tracker_type, payload.get("importSummaries") or [])
            ),
            stats=Stats(**counts, total=sum(counts.values())),
            message=message,
            http_status=http_status,
        )

    @classmethod
    def combine(cls, reports: Iterable[TrackerImportReport]) -> TrackerImportReport:
        """One report for an import made of several calls (the legacy endpoints take one object type each)."""
        combined = cls()
        for report in reports:
            stats = {
                name: getattr(combined.stats, name) + getattr(report.stats, name) for name in _STAT_NAMES
            }
            combined = cls(
                status=max(combined.status, report.status, key=_RANK.__getitem__),
                validation_report=ValidationReport(
                    error_reports=combined.errors + report.errors,
                    warning_reports=combined.validation_report.warning_reports
                    + report.validation_report.warning_reports,
                ),
                stats=Stats(**stats),
                message=report.message or combined.message,
                http_status=max(combined.http_status, report.http_status),
            )
        return combined


_LEGACY_COUNTS = {"created": "imported", "updated": "updated", "deleted": "deleted", "ignored": "ignored"}
_STAT_NAMES = ("created", "updated", "deleted", "ignored", "total")
_LEGACY_STATUS = {"SUCCESS": ReportStatus.OK, "OK": ReportStatus.OK, "WARNING": ReportStatus.WARNING}
_RANK = {ReportStatus.OK: 0, ReportStatus.WARNING: 1, ReportStatus.ERROR: 2}


def _legacy_errors(tracker_type: str, summaries: list[Mapping[str, Any]]) -> list[TrackerError]:
    errors = []
    for summary in summaries:
        conflicts = summary.get("conflicts") or []
        reference = summary.get("reference")
        errors += [
            TrackerError(
                message=conflict.get("value", ""),
                error_code=conflict.get("errorCode"),
                tracker_type=tracker_type,
                uid=reference or conflict.get("object"),
            )
            for conflict in conflicts
        ]
        if summary.get("status") == "ERROR" and not conflicts:
            errors.append(
                TrackerError(
                    message=summary.get("description") or "", tracker_type=tracker_type, uid=reference
                )
            )
    return errors
