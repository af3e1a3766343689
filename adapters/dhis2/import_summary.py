"""``ImportSummary``: the typed result of data value, completeness and legacy tracker imports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

import defusedxml.ElementTree as SafeXml
from pydantic import Field

from adapters.dhis2.web_message import Wire, unwrap


class ImportStatus(StrEnum):
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    ERROR = "ERROR"
    TIMEOUT = "TIMEOUT"


_SEVERITY = {ImportStatus.SUCCESS: 0, ImportStatus.WARNING: 1, ImportStatus.TIMEOUT: 2, ImportStatus.ERROR: 3}
_FROM_WEB_MESSAGE = {"OK": ImportStatus.SUCCESS, "WARNING": ImportStatus.WARNING, "ERROR": ImportStatus.ERROR}


class ImportCount(Wire):
    imported: int = 0
    updated: int = 0
    ignored: int = 0
    deleted: int = 0

    def __add__(self, other: ImportCount) -> ImportCount:
        return ImportCount(
            imported=self.imported + other.imported,
            updated=self.updated + other.updated,
            ignored=self.ignored + other.ignored,
            deleted=self.deleted + other.deleted,
        )


class Conflict(Wire):
    """One conflict. ``value`` is the message (DHIS2's name for it); ``error_code`` (E7600…),
    ``property``, ``objects`` and ``indexes`` (positions in the posted ``dataValues``) exist from 2.37."""

    object: str | None = None
    objects: dict[str, str] = Field(default_factory=dict)
    value: str = ""
    error_code: str | None = None
    property: str | None = None
    indexes: list[int] = Field(default_factory=list)


class ImportSummary(Wire):
    """What DHIS2 did with an import, whatever the release and the wire shape.

    Parsed by :meth:`from_body` from the plain ImportSummary (2.29 to 2.37, or any release called
    as ``/api/37/…``), from the WebMessage that wraps it from 2.38 (including the HTTP 409 sent
    when there are conflicts: that is a result, not an error), from a WebMessage carrying only
    an error message, and from the XML summary older releases return for XML and ADX posts.
    ``rejected_indexes`` (2.41+) lists the positions of the data values that were not stored.

    Example::

        summary = client.data_value_sets.post(payload)
        if summary.status is ImportStatus.ERROR or summary.conflicts:
            for conflict in summary.conflicts:
                print(conflict.error_code, conflict.value, conflict.indexes)
        summary.import_count.imported, summary.import_count.ignored
    """

    status: ImportStatus = ImportStatus.SUCCESS
    description: str | None = None
    import_count: ImportCount = Field(default_factory=ImportCount)
    conflicts: list[Conflict] = Field(default_factory=list)
    rejected_indexes: list[int] = Field(default_factory=list)
    data_set_complete: str | None = None
    reference: str | None = None
    message: str | None = None
    http_status: int = 200

    @property
    def ok(self) -> bool:
        """True when nothing was rejected: SUCCESS, or WARNING with nothing ignored."""
        return self.status is ImportStatus.SUCCESS or (
            self.status is ImportStatus.WARNING
            and not self.import_count.ignored
            and not self.rejected_indexes
        )

    @classmethod
    def from_body(cls, body: Any, http_status: int = 200) -> ImportSummary:
        """Parse any DHIS2 ImportSummary shape (JSON object or XML text); ``ValueError`` if it is none."""
        if isinstance(body, str | bytes):
            return _from_xml(body, http_status)
        if not isinstance(body, Mapping):
            raise ValueError("expected an ImportSummary object")
        payload, message = unwrap(body)
        if payload is None:
            return _from_bare_web_message(body, http_status)
        if not isinstance(payload, Mapping) or not ({"status", "importCount"} & payload.keys()):
            raise ValueError("the response holds no ImportSummary")
        summary = cls.model_validate(payload)
        return summary.model_copy(update={"http_status": http_status, "message": message or summary.message})

    @classmethod
    def combine(cls, parts: Iterable[tuple[int, ImportSummary]]) -> ImportSummary:
        """One summary for an import sent in several posts. Each part comes with the position of
        its first value in the whole input, so ``indexes`` and ``rejected_indexes`` keep pointing
        at the caller's values."""
        parts = list(parts)
        summaries = [part for _, part in parts]

        def latest(field: str) -> Any:
            return next((getattr(s, field) for s in reversed(summaries) if getattr(s, field)), None)

        return cls(
            status=max(
                (s.status for s in summaries), key=_SEVERITY.__getitem__, default=ImportStatus.SUCCESS
            ),
            description=latest("description"),
            import_count=sum((s.import_count for s in summaries), ImportCount()),
            conflicts=[
                c.model_copy(update={"indexes": [i + offset for i in c.indexes]})
                for offset, part in parts
                for c in part.conflicts
            ],
            rejected_indexes=[i + offset for offset, part in parts for i in part.rejected_indexes],
            data_set_complete=latest("data_set_complete"),
            message=latest("message"),
            http_status=max((s.http_status for s in summaries), default=200),
        )


def _from_bare_web_message(body: Mapping[str, Any], http_status: int) -> ImportSummary:
    status = _FROM_WEB_MESSAGE.get(str(body.get("status")), ImportStatus.ERROR)
    message = body.get("message")
    conflicts = (
        []
        if status is ImportStatus.SUCCESS
        else [Conflict(value=message or "", error_code=body.get("errorCode"))]
    )
    return ImportSummary(
        status=status, description=message, conflicts=conflicts, message=message, http_status=http_status
    )


# Attributes of <conflict> in the XML summary; indexes are left out, their XML form is not documented.
_XML_CONFLICT_ATTRIBUTES = ("object", "value", "errorCode", "property")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _from_xml(text: str | bytes, http_status: int) -> ImportSummary:
    try:
        root = SafeXml.fromstring(text)
    except SafeXml.ParseError as exc:
        raise ValueError(f"not an XML ImportSummary: {exc}") from exc
    if _local(root.tag) == "importSummaries":
        parts = [_xml_summary(child, http_status) for child in root if _local(child.tag) == "importSummary"]
        return ImportSummary.combine((0, part) for part in parts)
    if _local(root.tag) != "importSummary":
        raise ValueError(f"expected an importSummary element, got {_local(root.tag)}")
    return _xml_summary(root, http_status)


def _xml_summary(element: Any, http_status: int) -> ImportSummary:
    children = {_local(child.tag): child for child in element}
    count = children.get("importCount")
    conflicts = children.get("conflicts")
    data: dict[str, Any] = {
        name: children[name].text for name in ("status", "description", "dataSetComplete") if name in children
    }
    data["importCount"] = dict(count.attrib) if count is not None else {}
    data["conflicts"] = [
        {key: value for key, value in conflict.attrib.items() if key in _XML_CONFLICT_ATTRIBUTES}
        for conflict in (conflicts if conflicts is not None else [])
    ]
    return ImportSummary.model_validate(data).model_copy(update={"http_status": http_status})
