"""``ImportReport``: the typed result of a metadata import."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import Field

from adapters.dhis2.web_message import Wire, unwrap


class ReportStatus(StrEnum):
    OK = "OK"
    WARNING = "WARNING"
    ERROR = "ERROR"


class Stats(Wire):
    created: int = 0
    updated: int = 0
    deleted: int = 0
    ignored: int = 0
    total: int = 0


class ErrorReport(Wire):
    """One validation error: ``error_code`` (E4000…), the object's class and the faulty property."""

    message: str = ""
    error_code: str | None = None
    main_klass: str | None = None
    error_klass: str | None = None
    error_property: str | None = None
    value: Any = None


class ObjectReport(Wire):
    klass: str | None = None
    index: int | None = None
    uid: str | None = None
    error_reports: list[ErrorReport] = Field(default_factory=list)


class TypeReport(Wire):
    klass: str
    stats: Stats = Field(default_factory=Stats)
    object_reports: list[ObjectReport] = Field(default_factory=list)


class ImportReport(Wire):
    """What DHIS2 did with a metadata import (``POST /api/metadata``).

    Parsed by :meth:`from_body` from the plain report (up to 2.37, or ``/api/37/…``) and from
    the WebMessage that wraps it from 2.38, including its HTTP 409 when the import failed.

    Example::

        report = client.metadata.import_(payload, import_mode="VALIDATE")
        if report.status is not ReportStatus.OK:
            for error in report.error_reports:
                print(error.error_code, error.main_klass, error.error_property, error.message)
        report.stats.created, report.stats.updated
    """

    status: ReportStatus = ReportStatus.OK
    stats: Stats = Field(default_factory=Stats)
    type_reports: list[TypeReport] = Field(default_factory=list)
    message: str | None = None
    http_status: int = 200

    @property
    def error_reports(self) -> list[ErrorReport]:
        """Every error report, across types and objects."""
        return [
            error
            for type_report in self.type_reports
            for object_report in type_report.object_reports
            for error in object_report.error_reports
        ]

    @classmethod
    def from_body(cls, body: Any, http_status: int = 200) -> ImportReport:
        """Parse a metadata ImportReport, plain or wrapped; ``ValueError`` if the body is none."""
        payload, message = unwrap(body) if isinstance(body, Mapping) else (None, None)
        if not isinstance(payload, Mapping) or not ({"typeReports", "stats"} & payload.keys()):
            raise ValueError("the response holds no ImportReport")
        report = cls.model_validate(payload)
        return report.model_copy(update={"http_status": http_status, "message": message or report.message})
