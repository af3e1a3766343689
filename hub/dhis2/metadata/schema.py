"""How each cached DHIS2 type maps between its wire JSON and its rows, both ways.

One :class:`ObjectType` per type: the export key (``organisationUnits``), the Java class
DHIS2 reports (``org.hisp.dhis.organisationunit.OrganisationUnit``), what it requires, which
values its enums take, its columns and owned rows from a wire object, and the wire object
back from a row (for the read API).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from hub.db.base import Base
from hub.dhis2.metadata import geometry, models, sharing

UID_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9]{10}$")

VALUE_TYPES = frozenset(
    {
        "TEXT",
        "LONG_TEXT",
        "MULTI_TEXT",
        "LETTER",
        "PHONE_NUMBER",
        "EMAIL",
        "BOOLEAN",
        "TRUE_ONLY",
        "DATE",
        "DATETIME",
        "TIME",
        "NUMBER",
        "UNIT_INTERVAL",
        "PERCENTAGE",
        "INTEGER",
        "INTEGER_POSITIVE",
        "INTEGER_NEGATIVE",
        "INTEGER_ZERO_OR_POSITIVE",
        "TRACKER_ASSOCIATE",
        "USERNAME",
        "COORDINATE",
        "ORGANISATION_UNIT",
        "REFERENCE",
        "AGE",
        "URL",
        "FILE_RESOURCE",
        "IMAGE",
        "GEOJSON",
    }
)
AGGREGATION_TYPES = frozenset(
    {
        "SUM",
        "AVERAGE",
        "AVERAGE_SUM_ORG_UNIT",
        "LAST",
        "LAST_AVERAGE_ORG_UNIT",
        "LAST_LAST_ORG_UNIT",
        "LAST_IN_PERIOD",
        "LAST_IN_PERIOD_AVERAGE_ORG_UNIT",
        "FIRST",
        "FIRST_AVERAGE_ORG_UNIT",
        "FIRST_FIRST_ORG_UNIT",
        "COUNT",
        "STDDEV",
        "VARIANCE",
        "MIN",
        "MAX",
        "MIN_SUM_ORG_UNIT",
        "MAX_SUM_ORG_UNIT",
        "NONE",
        "CUSTOM",
        "DEFAULT",
    }
)
DOMAIN_TYPES = frozenset({"AGGREGATE", "TRACKER"})
PERIOD_TYPES = frozenset(
    {
        "Daily",
        "Weekly",
        "WeeklyWednesday",
        "WeeklyThursday",
        "WeeklySaturday",
        "WeeklySunday",
        "BiWeekly",
        "Monthly",
        "BiMonthly",
        "Quarterly",
        "QuarterlyNov",
        "SixMonthly",
        "SixMonthlyApril",
        "SixMonthlyNov",
        "Yearly",
        "FinancialApril",
        "FinancialJuly",
        "FinancialSep",
        "FinancialOct",
        "FinancialNov",
    }
)


def parse_timestamp(value: str | None) -> datetime | None:
    """A DHIS2 timestamp (``2019-08-26T14:24:45.185``, zone-less means UTC) as an aware datetime."""
    if not value:
        return None
    if not isinstance(value, str):
        raise ValueError(f"`{value}` is not a timestamp")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_timestamp(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")
    return f"{value.isoformat()}T00:00:00.000"


def _date(value: str | None) -> date | None:
    if not value:
        return None
    if not isinstance(value, str):
        raise ValueError(f"`{value}` is not a date")
    return date.fromisoformat(value[:10])


def _ref(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value.get("id") if isinstance(value, dict) else None


def _refs(obj: dict[str, Any], key: str) -> list[str]:
    return [item["id"] for item in obj.get(key) or () if isinstance(item, dict) and item.get("id")]


def _ordered_links(key: str, column: str) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    """Link rows to the objects listed under ``key``, in DHIS2's order, duplicates dropped."""
    return lambda obj: [
        {column: uid, "sort_order": i} for i, uid in enumerate(dict.fromkeys(_refs(obj, key)))
    ]


def _wire_ref(uid: str | None) -> dict[str, str] | None:
    return {"id": uid} if uid else None


@dataclass(frozen=True)
class Owned:
    """Rows an object owns, replaced whenever the object is written; ``key`` is the owner's column."""

    model: type[Base]
    key: str
    rows: Callable[[dict[str, Any]], list[dict[str, Any]]]


@dataclass(frozen=True)
class ObjectType:
    key: str
    klass: str
    model: type[models.Identifiable]
    columns: Callable[[dict[str, Any]], dict[str, Any]]
    to_wire: Callable[[Any], dict[str, Any]]
    enums: dict[str, frozenset[str]] = field(default_factory=dict)
    required: tuple[str, ...] = ("name",)
    owned: tuple[Owned, ...] = ()
    # wire property -> column, for filters and ordering on the read API
    properties: dict[str, str] = field(default_factory=dict)
    # relationships the wire form reads, loaded with the page
    loads: tuple[str, ...] = ()

    @property
    def simple_name(self) -> str:
        return self.klass.rsplit(".", 1)[-1]

    def row(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Column values for a wire object (``lastUpdated`` defaults to now)."""
        return {
            "uid": obj["id"],
            "code": obj.get("code"),
            "name": obj["name"],
            "last_updated": parse_timestamp(obj.get("lastUpdated")) or datetime.now(UTC),
            **self.columns(obj),
        }


def _identifiable_wire(row: models.Identifiable) -> dict[str, Any]:
    wire: dict[str, Any] = {"id": row.uid, "name": row.name, "displayName": row.name}
    if row.code is not None:
        wire["code"] = row.code
    wire["lastUpdated"] = format_timestamp(row.last_updated)
    if isinstance(row, models.Nameable) and row.short_name is not None:
        wire["shortName"] = row.short_name
        wire["displayShortName"] = row.short_name
    return wire


def _drop_none(wire: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in wire.items() if v is not None}


IDENTIFIABLE_PROPERTIES = {
    "id": "uid",
    "code": "code",
    "name": "name",
    "displayName": "name",
    "lastUpdated": "last_updated",
}
NAMEABLE_PROPERTIES = {**IDENTIFIABLE_PROPERTIES, "shortName": "short_name", "displayShortName": "short_name"}


# -- organisation units ------------------------------------------------------------------------------


def _org_unit_geometry(obj: dict[str, Any]) -> dict[str, Any] | None:
    if "geometry" in obj:
        return geometry.check(obj["geometry"])
    return geometry.check(geometry.from_legacy(obj.get("featureType"), obj.get("coordinates")))


def _org_unit_columns(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "short_name": obj.get("shortName"),
        "level": obj.get("level"),
        "path": obj.get("path"),
        "parent_uid": _ref(obj, "parent"),
        "opening_date": _date(obj.get("openingDate")),
        "closed_date": _date(obj.get("closedDate")),
        "geometry": _org_unit_geometry(obj),
    }


def _org_unit_wire(row: models.OrgUnit) -> dict[str, Any]:
    return _drop_none(
        {
            **_identifiable_wire(row),
            "level": row.level,
            "path": row.path,
            "parent": _wire_ref(row.parent_uid),
            "openingDate": format_timestamp(row.opening_date),
            "closedDate": format_timestamp(row.closed_date),
            "geometry": row.geometry,
        }
    )


ORG_UNITS = ObjectType(
    key="organisationUnits",
    klass="org.hisp.dhis.organisationunit.OrganisationUnit",
    model=models.OrgUnit,
    columns=_org_unit_columns,
    to_wire=_org_unit_wire,
    required=("name", "openingDate"),
    properties={
        **NAMEABLE_PROPERTIES,
        "level": "level",
        "path": "path",
        "parent.id": "parent_uid",
        "openingDate": "opening_date",
        "closedDate": "closed_date",
    },
)


# -- categories, combos, options -----------------------------------------------------------------------


CATEGORY_OPTIONS = ObjectType(
    key="categoryOptions",
    klass="org.hisp.dhis.category.CategoryOption",
    model=models.CategoryOption,
    columns=lambda obj: {
        "short_name": obj.get("shortName"),
        "start_date": _date(obj.get("startDate")),
        "end_date": _date(obj.get("endDate")),
        "sharing": sharing.from_wire(obj),
    },
    to_wire=lambda row: _drop_none(
        {
            **_identifiable_wire(row),
            "startDate": format_timestamp(row.start_date),
            "endDate": format_timestamp(row.end_date),
            "sharing": row.sharing,
        }
    ),
    properties=NAMEABLE_PROPERTIES,
)

CATEGORIES = ObjectType(
    key="categories",
    klass="org.hisp.dhis.category.Category",
    model=models.Category,
    columns=lambda obj: {
        "short_name": obj.get("shortName"),
        "data_dimension_type": obj.get("dataDimensionType"),
    },
    to_wire=lambda row: _drop_none(
        {
            **_identifiable_wire(row),
            "dataDimensionType": row.data_dimension_type,
            "categoryOptions": [{"id": link.category_option_uid} for link in row.options],
        }
    ),
    owned=(
        Owned(
            models.CategoryCategoryOption,
            "category_uid",
            _ordered_links("categoryOptions", "category_option_uid"),
        ),
    ),
    properties={**NAMEABLE_PROPERTIES, "dataDimensionType": "data_dimension_type"},
    loads=("options",),
)

CATEGORY_COMBOS = ObjectType(
    key="categoryCombos",
    klass="org.hisp.dhis.category.CategoryCombo",
    model=models.CategoryCombo,
    columns=lambda obj: {
        "data_dimension_type": obj.get("dataDimensionType"),
        "skip_total": bool(obj.get("skipTotal", False)),
    },
    to_wire=lambda row: {
        **_identifiable_wire(row),
        "dataDimensionType": row.data_dimension_type,
        "skipTotal": row.skip_total,
        "categories": [{"id": link.category_uid} for link in row.categories],
    },
    owned=(
        Owned(
            models.CategoryComboCategory,
            "category_combo_uid",
            _ordered_links("categories", "category_uid"),
        ),
    ),
    properties={**IDENTIFIABLE_PROPERTIES, "dataDimensionType": "data_dimension_type"},
    loads=("categories",),
)

CATEGORY_OPTION_COMBOS = ObjectType(
    key="categoryOptionCombos",
    klass="org.hisp.dhis.category.CategoryOptionCombo",
    model=models.CategoryOptionCombo,
    columns=lambda obj: {
        "category_combo_uid": _ref(obj, "categoryCombo"),
        "ignore_approval": bool(obj.get("ignoreApproval", False)),
    },
    to_wire=lambda row: _drop_none(
        {
            **_identifiable_wire(row),
            "ignoreApproval": row.ignore_approval,
            "categoryCombo": _wire_ref(row.category_combo_uid),
            "categoryOptions": [{"id": link.category_option_uid} for link in row.options],
        }
    ),
    owned=(
        Owned(
            models.CategoryOptionComboOption,
            "category_option_combo_uid",
            lambda obj: [
                {"category_option_uid": uid} for uid in dict.fromkeys(_refs(obj, "categoryOptions"))
            ],
        ),
    ),
    properties={**IDENTIFIABLE_PROPERTIES, "categoryCombo.id": "category_combo_uid"},
    loads=("options",),
)

OPTION_SETS = ObjectType(
    key="optionSets",
    klass="org.hisp.dhis.option.OptionSet",
    model=models.OptionSet,
    columns=lambda obj: {"value_type": obj.get("valueType")},
    to_wire=lambda row: _drop_none({**_identifiable_wire(row), "valueType": row.value_type}),
    enums={"valueType": VALUE_TYPES},
    properties={**IDENTIFIABLE_PROPERTIES, "valueType": "value_type"},
)

OPTIONS = ObjectType(
    key="options",
    klass="org.hisp.dhis.option.Option",
    model=models.Option,
    columns=lambda obj: {"option_set_uid": _ref(obj, "optionSet"), "sort_order": obj.get("sortOrder")},
    to_wire=lambda row: _drop_none(
        {**_identifiable_wire(row), "optionSet": _wire_ref(row.option_set_uid), "sortOrder": row.sort_order}
    ),
    properties={**IDENTIFIABLE_PROPERTIES, "optionSet.id": "option_set_uid", "sortOrder": "sort_order"},
)


# -- data elements and data sets ------------------------------------------------------------------------


DATA_ELEMENTS = ObjectType(
    key="dataElements",
    klass="org.hisp.dhis.dataelement.DataElement",
    model=models.DataElement,
    columns=lambda obj: {
        "short_name": obj.get("shortName"),
        "form_name": obj.get("formName"),
        "value_type": obj["valueType"],
        "aggregation_type": obj.get("aggregationType"),
        "domain_type": obj.get("domainType"),
        "category_combo_uid": _ref(obj, "categoryCombo"),
        "option_set_uid": _ref(obj, "optionSet"),
        "zero_is_significant": bool(obj.get("zeroIsSignificant", False)),
    },
    to_wire=lambda row: _drop_none(
        {
            **_identifiable_wire(row),
            "formName": row.form_name,
            "valueType": row.value_type,
            "aggregationType": row.aggregation_type,
            "domainType": row.domain_type,
            "categoryCombo": _wire_ref(row.category_combo_uid),
            "optionSet": _wire_ref(row.option_set_uid),
            "optionSetValue": row.option_set_uid is not None,
            "zeroIsSignificant": row.zero_is_significant,
        }
    ),
    required=("name", "valueType"),
    enums={"valueType": VALUE_TYPES, "aggregationType": AGGREGATION_TYPES, "domainType": DOMAIN_TYPES},
    properties={
        **NAMEABLE_PROPERTIES,
        "formName": "form_name",
        "valueType": "value_type",
        "aggregationType": "aggregation_type",
        "domainType": "domain_type",
        "categoryCombo.id": "category_combo_uid",
        "optionSet.id": "option_set_uid",
        "zeroIsSignificant": "zero_is_significant",
    },
)


def _data_set_elements(obj: dict[str, Any]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for element in obj.get("dataSetElements") or ():
        uid = _ref(element, "dataElement")
        if uid:
            rows[uid] = {"data_element_uid": uid, "category_combo_uid": _ref(element, "categoryCombo")}
    return list(rows.values())


def _data_set_wire(row: models.DataSet) -> dict[str, Any]:
    elements = [
        _drop_none(
            {
                "dataSet": {"id": row.uid},
                "dataElement": {"id": e.data_element_uid},
                "categoryCombo": _wire_ref(e.category_combo_uid),
            }
        )
        for e in row.elements
    ]
    return _drop_none(
        {
            **_identifiable_wire(row),
            "periodType": row.period_type,
            "categoryCombo": _wire_ref(row.category_combo_uid),
            "expiryDays": row.expiry_days,
            "openFuturePeriods": row.open_future_periods,
            "timelyDays": row.timely_days,
            "dataSetElements": elements,
            "organisationUnits": [{"id": link.org_unit_uid} for link in row.org_units],
        }
    )


DATA_SETS = ObjectType(
    key="dataSets",
    klass="org.hisp.dhis.dataset.DataSet",
    model=models.DataSet,
    columns=lambda obj: {
        "short_name": obj.get("shortName"),
        "period_type": obj["periodType"],
        "category_combo_uid": _ref(obj, "categoryCombo"),
        "expiry_days": obj.get("expiryDays") or 0,
        "open_future_periods": obj.get("openFuturePeriods") or 0,
        "timely_days": obj.get("timelyDays", 15),
    },
    to_wire=_data_set_wire,
    required=("name", "periodType"),
    enums={"periodType": PERIOD_TYPES},
    owned=(
        Owned(models.DataSetElement, "data_set_uid", _data_set_elements),
        Owned(
            models.DataSetOrgUnit,
            "data_set_uid",
            lambda obj: [{"org_unit_uid": uid} for uid in dict.fromkeys(_refs(obj, "organisationUnits"))],
        ),
    ),
    properties={
        **NAMEABLE_PROPERTIES,
        "periodType": "period_type",
        "categoryCombo.id": "category_combo_uid",
        "expiryDays": "expiry_days",
        "openFuturePeriods": "open_future_periods",
        "timelyDays": "timely_days",
    },
    loads=("elements", "org_units"),
)

# In dependency order, as DHIS2 imports them.
OBJECT_TYPES: tuple[ObjectType, ...] = (
    ORG_UNITS,
    CATEGORY_OPTIONS,
    CATEGORIES,
    CATEGORY_COMBOS,
    CATEGORY_OPTION_COMBOS,
    OPTION_SETS,
    OPTIONS,
    DATA_ELEMENTS,
    DATA_SETS,
)
BY_KEY = {t.key: t for t in OBJECT_TYPES}
