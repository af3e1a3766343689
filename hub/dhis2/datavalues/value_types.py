"""Checks a value against its data element's DHIS2 ValueType, returning DHIS2's i18n error key.

The keys are the ones DHIS2 puts in E7619 conflicts ("Value must match data element's `X` type
constraints: value_not_integer"), so clients that match on them keep working.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from urllib.parse import urlparse

import orjson

VALUE_MAX_LENGTH = 50_000
INT32_MAX = 2**31 - 1

NUMERIC = re.compile(r"^(-?0|-?[1-9]\d*)(\.\d+)?([eE]-?\d+)?$")
INTEGER = re.compile(r"^(0|-?[1-9]\d*)$")
POSITIVE = re.compile(r"^[1-9]\d*$")
NEGATIVE = re.compile(r"^-[1-9]\d*$")
ZERO_OR_POSITIVE = re.compile(r"^(0|[1-9]\d*)$")
UID = re.compile(r"^[a-zA-Z][a-zA-Z0-9]{10}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^[0-9+\-\s().]{1,50}$")
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")
TRUE = frozenset({"true", "1", "t", "yes", "y", "on"})
FALSE = frozenset({"false", "0", "f", "no", "n", "off"})


def _matches(pattern: re.Pattern[str], key: str, limit: int | None = None) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if pattern.match(value) is None or (limit is not None and abs(int(value)) > limit):
            return key
        return None

    return check


def _number_between(low: float, high: float, key: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if NUMERIC.match(value) and low <= float(value) <= high else key

    return check


def _parses(parse: Callable[[str], object], key: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        try:
            parse(value)
        except (ValueError, TypeError, orjson.JSONDecodeError):
            return key
        return None

    return check


def _coordinate(value: str) -> None:
    lon, lat = orjson.loads(value)
    if not (-180 <= float(lon) <= 180 and -90 <= float(lat) <= 90):
        raise ValueError(value)


def _geojson(value: str) -> None:
    doc = orjson.loads(value)
    if not isinstance(doc, dict) or "type" not in doc:
        raise ValueError(value)


def _url(value: str) -> None:
    parts = urlparse(value)
    if parts.scheme not in ("http", "https", "ftp") or not parts.netloc:
        raise ValueError(value)


def _date(value: str) -> None:
    if len(value) == 10:
        date.fromisoformat(value)
    else:
        datetime.fromisoformat(value)


CHECKS: dict[str, Callable[[str], str | None]] = {
    "NUMBER": _matches(NUMERIC, "value_not_numeric"),
    "UNIT_INTERVAL": _number_between(0, 1, "value_not_unit_interval"),
    "PERCENTAGE": _number_between(0, 100, "value_not_percentage"),
    "INTEGER": _matches(INTEGER, "value_not_integer", INT32_MAX),
    "INTEGER_POSITIVE": _matches(POSITIVE, "value_not_positive_integer", INT32_MAX),
    "INTEGER_NEGATIVE": _matches(NEGATIVE, "value_not_negative_integer", INT32_MAX + 1),
    "INTEGER_ZERO_OR_POSITIVE": _matches(ZERO_OR_POSITIVE, "value_not_zero_or_positive_integer", INT32_MAX),
    "BOOLEAN": lambda v: None if v in ("true", "false") else "value_not_bool",
    "TRUE_ONLY": lambda v: None if v == "true" else "value_not_true_only",
    "DATE": _parses(_date, "value_not_valid_date"),
    "AGE": _parses(_date, "value_not_valid_date"),
    "DATETIME": _parses(datetime.fromisoformat, "value_not_valid_datetime"),
    "TIME": _matches(TIME, "value_not_valid_time"),
    "LETTER": lambda v: None if len(v) == 1 and v.isalpha() else "value_not_valid_letter",
    "EMAIL": _matches(EMAIL, "value_not_valid_email"),
    "PHONE_NUMBER": _matches(PHONE, "value_not_valid_phone_number"),
    "URL": _parses(_url, "value_not_url"),
    "COORDINATE": _parses(_coordinate, "value_not_coordinate"),
    "GEOJSON": _parses(_geojson, "value_not_valid_geojson"),
    "ORGANISATION_UNIT": _matches(UID, "value_not_orgunit"),
    "FILE_RESOURCE": _matches(UID, "value_not_valid_file_resource_uid"),
    "IMAGE": _matches(UID, "value_not_valid_file_resource_uid"),
}
BOOLEAN_TYPES = frozenset({"BOOLEAN", "TRUE_ONLY"})
# TEXT, LONG_TEXT, USERNAME, TRACKER_ASSOCIATE, REFERENCE, MULTI_TEXT: any text within the length limit
VALUE_TYPES = frozenset(
    {*CHECKS, "TEXT", "LONG_TEXT", "USERNAME", "TRACKER_ASSOCIATE", "REFERENCE", "MULTI_TEXT"}
)


def normalise(value: str, value_type: str) -> str:
    """Booleans as DHIS2 stores them: ``1``, ``yes``, ``T`` … become ``true``/``false``."""
    if value_type in BOOLEAN_TYPES:
        lowered = value.strip().lower()
        if lowered in TRUE:
            return "true"
        if lowered in FALSE:
            return "false"
    return value


def error(value: str, value_type: str) -> str | None:
    """None when ``value`` (already normalised) is valid for ``value_type``, else DHIS2's error key."""
    if len(value) > VALUE_MAX_LENGTH:
        return "value_length_greater_than_max_length"
    if "\x00" in value:  # PostgreSQL's text cannot hold it
        return "value_contains_nul_character"
    check = CHECKS.get(value_type)
    return None if check is None else check(value)
