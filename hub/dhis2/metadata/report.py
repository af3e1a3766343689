"""DHIS2's metadata ImportReport: stats per type and an error report per refused object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MISSING_PROPERTY = "E4000"
TOO_LONG = "E4001"
INVALID_UID = "E4014"
# DHIS2 refuses an unknown enum value while parsing; the cache reports it per object instead.
INVALID_VALUE = "E4030"
NO_MATCHING_OBJECT = "E5001"
INVALID_REFERENCE = "E5002"
ALREADY_EXISTS = "E5003"


@dataclass
class Stats:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    ignored: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.deleted + self.ignored

    def add(self, other: Stats) -> None:
        self.created += other.created
        self.updated += other.updated
        self.deleted += other.deleted
        self.ignored += other.ignored

    def to_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "ignored": self.ignored,
            "total": self.total,
        }


@dataclass(frozen=True)
class ErrorReport:
    message: str
    error_code: str
    main_klass: str
    error_property: str | None = None
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "errorCode": self.error_code,
            "mainKlass": self.main_klass,
            "errorProperty": self.error_property,
            "value": self.value,
        }


@dataclass
class ObjectReport:
    klass: str
    index: int
    uid: str | None
    error_reports: list[ErrorReport]

    def to_dict(self) -> dict[str, Any]:
        return {
            "klass": self.klass,
            "index": self.index,
            "uid": self.uid,
            "errorReports": [e.to_dict() for e in self.error_reports],
        }


@dataclass
class TypeReport:
    klass: str
    stats: Stats = field(default_factory=Stats)
    object_reports: list[ObjectReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "klass": self.klass,
            "stats": self.stats.to_dict(),
            "objectReports": [o.to_dict() for o in self.object_reports],
        }


@dataclass
class ImportReport:
    """The outcome of one import; ``status`` is OK, WARNING (some ignored) or ERROR (nothing kept)."""

    import_mode: str = "COMMIT"
    type_reports: dict[str, TypeReport] = field(default_factory=dict)
    rolled_back: bool = False
    # types in the source the cache does not keep, with how many objects were passed over
    skipped: dict[str, int] = field(default_factory=dict)

    def type_report(self, klass: str) -> TypeReport:
        return self.type_reports.setdefault(klass, TypeReport(klass))

    @property
    def stats(self) -> Stats:
        total = Stats()
        for report in self.type_reports.values():
            total.add(report.stats)
        return total

    @property
    def has_errors(self) -> bool:
        return any(r.object_reports for r in self.type_reports.values())

    @property
    def status(self) -> str:
        if self.rolled_back:
            return "ERROR"
        return "WARNING" if self.has_errors else "OK"

    def counts(self) -> dict[str, dict[str, int]]:
        """Stats per type, keyed by the class's simple name (``OrganisationUnit``)."""
        return {klass.rsplit(".", 1)[-1]: r.stats.to_dict() for klass, r in self.type_reports.items()}

    def to_dict(self) -> dict[str, Any]:
        """The report as DHIS2 renders it (the ``response`` of the 2.38+ WebMessage)."""
        return {
            "responseType": "ImportReport",
            "importParams": {"importMode": self.import_mode},
            "status": self.status,
            "stats": self.stats.to_dict(),
            "typeReports": [r.to_dict() for r in self.type_reports.values()],
        }
