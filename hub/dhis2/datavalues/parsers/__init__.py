"""Incremental dataValueSet readers: each yields a :class:`Header` then values one at a time,
whatever the payload size. Pick one with :func:`reader_for`.

A value is a plain tuple (:data:`RawValue`), cheaper than an object at millions per import.
ADX names disaggregations by category instead of by combo: its ``categoryOptionCombo`` and
``attributeOptionCombo`` slots may hold ``((category, option), ...)`` pairs for the resolver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from hub.errors import UnsupportedMediaType

Disaggregation = str | tuple[tuple[str, str], ...] | None
# data element, period, org unit, category option combo, attribute option combo,
# value, comment, stored by, followup, deleted, data set (ADX groups; else the header's)
RawValue = tuple[
    str | None, str | None, str | None, Disaggregation, Disaggregation,
    str | None, str | None, str | None, bool, bool, str | None,
]  # fmt: skip
HEADER_FIELDS = ("dataSet", "completeDate", "period", "orgUnit", "attributeOptionCombo")
ID_SCHEME_KEYS = frozenset(
    {"idScheme", "dataElementIdScheme", "orgUnitIdScheme", "categoryOptionComboIdScheme",
     "attributeOptionComboIdScheme", "dataSetIdScheme"}
)  # fmt: skip


class MalformedPayload(ValueError):
    """The body cannot be read as the format it claims; DHIS2 reports it as a failed import."""


@dataclass(slots=True)
class Header:
    """The dataValueSet's own fields: defaults for its values, and id schemes that beat the query's."""

    data_set: str | None = None
    complete_date: str | None = None
    period: str | None = None
    org_unit: str | None = None
    attribute_option_combo: str | None = None
    id_schemes: dict[str, str] = field(default_factory=dict)
    grouped: bool = False  # ADX: each group names its own data set, period and org unit

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Header:
        return cls(
            data_set=fields.get("dataSet") or None,
            complete_date=fields.get("completeDate") or fields.get("completedDate") or None,
            period=fields.get("period") or None,
            org_unit=fields.get("orgUnit") or None,
            attribute_option_combo=fields.get("attributeOptionCombo") or None,
            id_schemes={k: v for k, v in fields.items() if k in ID_SCHEME_KEYS and v},
        )


@dataclass(slots=True)
class Payload:
    header: Header
    values: Iterator[RawValue]
    default_id_scheme: str = "uid"


Reader = Callable[[BinaryIO, dict[str, str]], Payload]

MEDIA_TYPES = {
    "application/json": "json",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/csv": "csv",
    "text/csv": "csv",
    "application/adx+xml": "adx",
}


def format_of(content_type: str | None, suffix: str | None) -> str:
    """``json``, ``xml``, ``csv`` or ``adx`` from the content type, else the path suffix (``.json``)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media in MEDIA_TYPES:
        return MEDIA_TYPES[media]
    if suffix in ("json", "xml", "csv", "adx"):
        return suffix
    raise UnsupportedMediaType(
        f"dataValueSets accepts {', '.join(MEDIA_TYPES)}, not {media or 'a body without a content type'}"
    )


def reader_for(fmt: str) -> Reader:
    from hub.dhis2.datavalues.parsers import adx, csv, json, xml

    return {"json": json.read, "xml": xml.read, "csv": csv.read, "adx": adx.read}[fmt]


def text(value: object) -> str | None:
    """A payload scalar as DHIS2 keeps it: a string, numbers and booleans in their JSON spelling."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def field(value: object, name: str, index: int | None = None, *, array: str = "dataValues") -> str | None:
    """A text field of a JSON payload as DHIS2 reads it: a string as is, numbers and booleans in their
    JSON spelling (as Jackson coerces them); an object or an array is no text (a malformed payload,
    ``name`` of the ``index``-th entry of ``array`` in its message)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        where = name if index is None else f"{array}[{index}].{name}"
        kind = "an object" if isinstance(value, dict) else "an array"
        raise MalformedPayload(f"{where} must be text, not {kind}")
    return text(value)


def flag(value: object) -> bool:
    """``followup``/``deleted`` arrive as booleans or as the strings "true"/"false"."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")
