"""The DHIS2 metadata cache: what the hub needs to resolve id schemes and validate data values.

Every object is keyed by its DHIS2 UID. References to other objects are plain UID columns
without foreign keys, because DHIS2 exports arrive partial and in any order (an export of
data elements names the default category combo without containing it). Rows an object owns
(a data set's elements, a combo's categories) do have foreign keys and go with their owner.
Every column a lookup filters on is indexed: code, name, the org unit path (prefix
searches for "within this subtree"), and (attribute, value) for ``attribute:<UID>`` id schemes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db.base import Base, JSONType, UTCDateTime

UID = String(11)


class Identifiable:
    """Columns every cached DHIS2 object has."""

    uid: Mapped[str] = mapped_column(UID, primary_key=True)
    code: Mapped[str | None] = mapped_column(String(230), index=True)
    name: Mapped[str] = mapped_column(String(230), index=True)
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Nameable(Identifiable):
    short_name: Mapped[str | None] = mapped_column(String(230))


class OrgUnit(Nameable, Base):
    __tablename__ = "dhis2_org_units"
    __table_args__ = (
        # text_pattern_ops lets PostgreSQL use the index for LIKE '/a/b/%' whatever the collation
        Index("ix_dhis2_org_units_path", "path", postgresql_ops={"path": "text_pattern_ops"}),
    )

    level: Mapped[int | None] = mapped_column(Integer)
    path: Mapped[str | None] = mapped_column(String(1024))
    parent_uid: Mapped[str | None] = mapped_column(UID, index=True)
    opening_date: Mapped[date | None] = mapped_column(Date)
    closed_date: Mapped[date | None] = mapped_column(Date)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class OptionSet(Identifiable, Base):
    __tablename__ = "dhis2_option_sets"

    value_type: Mapped[str | None] = mapped_column(String(40))


class Option(Identifiable, Base):
    __tablename__ = "dhis2_options"

    option_set_uid: Mapped[str | None] = mapped_column(UID, index=True)
    sort_order: Mapped[int | None] = mapped_column(Integer)


class CategoryOption(Nameable, Base):
    __tablename__ = "dhis2_category_options"

    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    # DHIS2 2.36+ sharing (``hub.dhis2.metadata.sharing``); None: the export said nothing (public)
    sharing: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class Category(Nameable, Base):
    __tablename__ = "dhis2_categories"

    data_dimension_type: Mapped[str | None] = mapped_column(String(20))
    options: Mapped[list[CategoryCategoryOption]] = relationship(
        order_by="CategoryCategoryOption.sort_order", lazy="raise"
    )


class CategoryCategoryOption(Base):
    __tablename__ = "dhis2_category_category_options"

    category_uid: Mapped[str] = mapped_column(
        UID, ForeignKey("dhis2_categories.uid", ondelete="CASCADE"), primary_key=True
    )
    category_option_uid: Mapped[str] = mapped_column(UID, primary_key=True, index=True)
    sort_order: Mapped[int] = mapped_column(Integer)


class CategoryCombo(Identifiable, Base):
    __tablename__ = "dhis2_category_combos"

    data_dimension_type: Mapped[str | None] = mapped_column(String(20))
    skip_total: Mapped[bool] = mapped_column(Boolean, default=False)
    categories: Mapped[list[CategoryComboCategory]] = relationship(
        order_by="CategoryComboCategory.sort_order", lazy="raise"
    )


class CategoryComboCategory(Base):
    __tablename__ = "dhis2_category_combo_categories"

    category_combo_uid: Mapped[str] = mapped_column(
        UID, ForeignKey("dhis2_category_combos.uid", ondelete="CASCADE"), primary_key=True
    )
    category_uid: Mapped[str] = mapped_column(UID, primary_key=True, index=True)
    sort_order: Mapped[int] = mapped_column(Integer)


class CategoryOptionCombo(Identifiable, Base):
    __tablename__ = "dhis2_category_option_combos"

    category_combo_uid: Mapped[str | None] = mapped_column(UID, index=True)
    ignore_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    options: Mapped[list[CategoryOptionComboOption]] = relationship(lazy="raise")


class CategoryOptionComboOption(Base):
    __tablename__ = "dhis2_category_option_combo_options"

    category_option_combo_uid: Mapped[str] = mapped_column(
        UID, ForeignKey("dhis2_category_option_combos.uid", ondelete="CASCADE"), primary_key=True
    )
    category_option_uid: Mapped[str] = mapped_column(UID, primary_key=True, index=True)


class DataElement(Nameable, Base):
    __tablename__ = "dhis2_data_elements"

    form_name: Mapped[str | None] = mapped_column(String(230))
    value_type: Mapped[str] = mapped_column(String(40))
    aggregation_type: Mapped[str | None] = mapped_column(String(40))
    domain_type: Mapped[str | None] = mapped_column(String(20))
    category_combo_uid: Mapped[str | None] = mapped_column(UID, index=True)
    option_set_uid: Mapped[str | None] = mapped_column(UID, index=True)
    zero_is_significant: Mapped[bool] = mapped_column(Boolean, default=False)


class DataSet(Nameable, Base):
    __tablename__ = "dhis2_data_sets"

    period_type: Mapped[str] = mapped_column(String(40))
    category_combo_uid: Mapped[str | None] = mapped_column(UID, index=True)
    expiry_days: Mapped[float] = mapped_column(Float, default=0)
    open_future_periods: Mapped[int] = mapped_column(Integer, default=0)
    timely_days: Mapped[float] = mapped_column(Float, default=15)
    elements: Mapped[list[DataSetElement]] = relationship(lazy="raise")
    org_units: Mapped[list[DataSetOrgUnit]] = relationship(lazy="raise")


class DataSetElement(Base):
    """A data element in a data set; ``category_combo_uid`` overrides the element's own combo there."""

    __tablename__ = "dhis2_data_set_elements"

    data_set_uid: Mapped[str] = mapped_column(
        UID, ForeignKey("dhis2_data_sets.uid", ondelete="CASCADE"), primary_key=True
    )
    data_element_uid: Mapped[str] = mapped_column(UID, primary_key=True, index=True)
    category_combo_uid: Mapped[str | None] = mapped_column(UID)


class DataSetOrgUnit(Base):
    """An org unit a data set is assigned to."""

    __tablename__ = "dhis2_data_set_org_units"

    data_set_uid: Mapped[str] = mapped_column(
        UID, ForeignKey("dhis2_data_sets.uid", ondelete="CASCADE"), primary_key=True
    )
    org_unit_uid: Mapped[str] = mapped_column(UID, primary_key=True, index=True)


class AttributeValue(Base):
    """A custom attribute value, for ``attribute:<UID>`` id schemes."""

    __tablename__ = "dhis2_attribute_values"
    __table_args__ = (Index("ix_dhis2_attribute_values_lookup", "object_type", "attribute_uid", "value"),)

    object_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    object_uid: Mapped[str] = mapped_column(UID, primary_key=True)
    attribute_uid: Mapped[str] = mapped_column(UID, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class MinMaxDataElement(Base):
    """Min/max bounds of a data element's values at an org unit, imported from files or synced."""

    __tablename__ = "dhis2_min_max_data_elements"

    data_element_uid: Mapped[str] = mapped_column(UID, primary_key=True)
    org_unit_uid: Mapped[str] = mapped_column(UID, primary_key=True, index=True)
    category_option_combo_uid: Mapped[str] = mapped_column(UID, primary_key=True)
    min_value: Mapped[float] = mapped_column(Float)
    max_value: Mapped[float] = mapped_column(Float)
    generated: Mapped[bool] = mapped_column(Boolean, default=False)


class MetadataSyncState(Base):
    """The metadata sync's watermark per source: the start time of its last successful run."""

    __tablename__ = "dhis2_metadata_sync_state"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    watermark: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
