"""DHIS2's ImportSummary for data values: counts, conflicts grouped as DHIS2 groups them, and the
shape each API version answers with.

Conflicts with the same error code and objects are one conflict listing every index it hit, as in
DHIS2 2.37+; the indexes are kept in compact arrays so a payload of millions of bad values stays small.
"""

from __future__ import annotations

import enum
from array import array
from dataclasses import dataclass, field
from typing import Any

from hub.dhis2.api.common import wraps_reports

FIRST_INDEXED_VERSION = 37  # errorCode, property, objects and indexes on each conflict
FIRST_REJECTED_INDEXES_VERSION = 41


class Code(enum.Enum):
    """DHIS2's data import error codes: (property, object types, message template)."""

    E7600 = (None, ("dataSet",), "Data set not found or not accessible: `{0}`")
    E7602 = (None, (), "A valid dataset is required")
    E7603 = (None, ("organisationUnit",), "Org unit not found or not accessible: `{0}`")
    E7604 = (None, ("categoryOptionCombo",), "Attribute option combo not found or not accessible: `{0}`")
    E7610 = ("dataElement", ("dataElement",), "Data element not found or not accessible: `{0}`")
    E7611 = ("period", ("period",), "Period not valid: `{0}`")
    E7612 = ("orgUnit", ("organisationUnit",), "Organisation unit not found or not accessible: `{0}`")
    E7613 = (
        "categoryOptionCombo",
        ("categoryOptionCombo",),
        "Category option combo not found or not accessible for writing data: `{0}`",
    )
    E7614 = (
        "categoryOptionCombo",
        ("categoryOptionCombo", "categoryOption"),
        "Category option combo: `{0}` option not accessible: `{1}`",
    )
    E7615 = (
        "attributeOptionCombo",
        ("categoryOptionCombo",),
        "Attribute option combo not found or not accessible for writing data: `{0}`",
    )
    E7616 = (
        "attributeOptionCombo",
        ("categoryOptionCombo", "categoryOption"),
        "Attribute option combo: `{0}` option not accessible: `{1}`",
    )
    E7617 = (
        "orgUnit",
        ("organisationUnit", "user"),
        "Organisation unit: `{0}` not in hierarchy of current user: `{1}`",
    )
    E7618 = ("value", ("dataElement",), "Data value or comment not specified for data element: `{0}`")
    E7619 = ("value", ("dataElement",), "Value must match data element's `{0}` type constraints: {1}")
    E7620 = ("comment", (), "Invalid comment: {0}")
    E7621 = (
        "value",
        ("dataElement",),
        "Data value is not a valid option of the data element option set: `{0}`",
    )
    E7630 = ("categoryOptionCombo", (), "Category option combo is required but is not specified")
    E7631 = ("attributeOptionCombo", (), "Attribute option combo is required but is not specified")
    E7632 = (
        None,
        ("period", "dataElement"),
        "Period type of period: `{0}` not valid for data element: `{1}`",
    )
    E7633 = ("dataElement", ("dataElement", "dataSet"), "Data element: `{0}` is not part of dataset: `{1}`")
    E7634 = (
        "categoryOptionCombo",
        ("categoryOptionCombo", "dataElement"),
        "Category option combo: `{0}` must be part of category combo of data element: `{1}`",
    )
    E7635 = (
        "attributeOptionCombo",
        ("categoryOptionCombo", "dataElement"),
        "Attribute option combo: `{0}` must be part of category combo of data sets of data element: `{1}`",
    )
    E7636 = (
        "orgUnit",
        ("organisationUnit", "dataElement"),
        "Data element: `{1}` must be assigned through data sets to organisation unit: `{0}`",
    )
    E7637 = ("storedBy", (), "Invalid storedBy: {0}")
    E7640 = (
        "period",
        ("period", "dataSet"),
        "Current date is past expiry days for period: `{0}`  and data set: `{1}`",
    )
    E7641 = (
        "period",
        ("period", "dataElement"),
        "Period: `{0}` is after latest open future period: `{2}` for data element: `{1}`",
    )

    @property
    def field(self) -> str | None:
        """The dataValue property at fault (DHIS2's ``property``)."""
        return self.value[0]

    @property
    def object_types(self) -> tuple[str, ...]:
        return self.value[1]

    def message(self, args: tuple[str, ...]) -> str:
        return self.value[2].format(*args)


@dataclass(slots=True)
class Conflict:
    code: Code
    args: tuple[str, ...]
    indexes: array[int] = field(default_factory=lambda: array("q"))

    def render(self, version: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "object": self.args[0] if self.args else "",
            "value": self.code.message(self.args),
        }
        if version >= FIRST_INDEXED_VERSION:
            objects = dict(zip(self.code.object_types, self.args, strict=False))
            body.update(objects=objects, errorCode=self.code.name, indexes=list(self.indexes))
            if self.code.field:
                body["property"] = self.code.field
        return body


@dataclass(slots=True)
class ImportCount:
    imported: int = 0
    updated: int = 0
    ignored: int = 0
    deleted: int = 0

    def add(self, other: ImportCount) -> None:
        self.imported += other.imported
        self.updated += other.updated
        self.ignored += other.ignored
        self.deleted += other.deleted

    def as_dict(self) -> dict[str, int]:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "ignored": self.ignored,
            "deleted": self.deleted,
        }


@dataclass(slots=True)
class ImportSummary:
    """What one dataValueSet import did; rendered per API version by :meth:`body`."""

    count: ImportCount = field(default_factory=ImportCount)
    conflicts: dict[tuple[Code, tuple[str, ...]], Conflict] = field(default_factory=dict)
    rejected: array[int] = field(default_factory=lambda: array("q"))
    aborted: bool = False
    failure: str | None = None
    data_set_complete: str | None = None
    dry_run: bool = False

    def conflict(self, index: int | None, code: Code, *args: str) -> None:
        """Record a conflict; ``index`` is the value's position, None for the set level."""
        self._add(index, code, args)
        if index is not None:
            self.count.ignored += 1  # DHIS2 counts every value it skips as ignored

    def reject(self, index: int, code: Code, each: tuple[tuple[str, ...], ...]) -> None:
        """One value refused with a conflict per ``each`` (E7614: one per option it may not write)."""
        for args in each:
            self._add(index, code, args)
        self.count.ignored += 1

    def _add(self, index: int | None, code: Code, args: tuple[str, ...]) -> None:
        key = (code, args)
        entry = self.conflicts.get(key)
        if entry is None:
            entry = self.conflicts[key] = Conflict(code, args)
        if index is not None:
            entry.indexes.append(index)
            self.rejected.append(index)

    def abort(self, code: Code, *args: str) -> None:
        """A set-level conflict: nothing of the payload is imported."""
        self.conflict(None, code, *args)
        self.aborted = True

    def fail(self, message: str) -> None:
        """The payload could not be read to its end (malformed): DHIS2's "The import process failed"."""
        self.failure = message

    @property
    def status(self) -> str:
        if self.aborted or self.failure:
            return "ERROR"
        return "WARNING" if self.conflicts else "SUCCESS"

    @property
    def description(self) -> str:
        if self.failure:
            return f"The import process failed: {self.failure}"
        if self.aborted:
            return "Import process was aborted"
        return "Import process completed successfully"

    def summary_body(self, version: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "responseType": "ImportSummary",
            "status": self.status,
            "importOptions": {"dryRun": self.dry_run},
            "description": self.description,
            "importCount": self.count.as_dict(),
            "conflicts": [c.render(version) for c in self.conflicts.values()],
            "dataSetComplete": self.data_set_complete or "false",
        }
        if version >= FIRST_REJECTED_INDEXES_VERSION:
            body["rejectedIndexes"] = sorted(set(self.rejected))
        return body

    def http_status(self, version: int) -> int:
        return 409 if wraps_reports(version) and self.status != "SUCCESS" else 200

    def body(self, version: int) -> dict[str, Any]:
        """The plain ImportSummary up to API 37; a WebMessage around it from 38 (409 unless SUCCESS)."""
        summary = self.summary_body(version)
        if not wraps_reports(version):
            return summary
        if self.status == "SUCCESS":
            return {"httpStatus": "OK", "httpStatusCode": 200, "status": "OK",
                    "message": "Import was successful.", "response": summary}  # fmt: skip
        message = (
            "An error occurred, please check import summary."
            if self.status == "ERROR"
            else "One more conflicts encountered, please check import summary."
        )
        return {"httpStatus": "Conflict", "httpStatusCode": 409, "status": self.status,
                "message": message, "response": summary}  # fmt: skip
