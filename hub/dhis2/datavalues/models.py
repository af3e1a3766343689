"""The hub's own store of DHIS2 data values, completeness registrations and async import jobs.

Values are keyed by their five DHIS2 dimensions (org unit first: imports and reads come grouped
by org unit and period). No foreign keys: metadata arrives from DHIS2 in any order and values
must outlive a metadata resync; each row keeps who sent it and in which logged transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, JSONType, UTCDateTime, utcnow
from hub.settings import INSTANCE_NAME_LENGTH

UID = String(11)
PERIOD = String(20)


class DataValue(Base):
    __tablename__ = "dhis2_data_values"
    # WITHOUT ROWID: the key is the table on SQLite, so bulk upserts maintain one B-tree, not two
    __table_args__ = ({"sqlite_with_rowid": False},)

    org_unit: Mapped[str] = mapped_column(UID, primary_key=True)
    period: Mapped[str] = mapped_column(PERIOD, primary_key=True)
    data_element: Mapped[str] = mapped_column(UID, primary_key=True)
    category_option_combo: Mapped[str] = mapped_column(UID, primary_key=True)
    attribute_option_combo: Mapped[str] = mapped_column(UID, primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    stored_by: Mapped[str | None] = mapped_column(String(255))
    followup: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    client_id: Mapped[str | None] = mapped_column(String(255))
    transaction_id: Mapped[int | None] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CompleteRegistration(Base):
    """A data set marked complete (or not) for a period, org unit and attribute option combo."""

    __tablename__ = "dhis2_complete_registrations"

    data_set: Mapped[str] = mapped_column(UID, primary_key=True)
    period: Mapped[str] = mapped_column(PERIOD, primary_key=True)
    org_unit: Mapped[str] = mapped_column(UID, primary_key=True)
    attribute_option_combo: Mapped[str] = mapped_column(UID, primary_key=True)
    date: Mapped[str | None] = mapped_column(String(40))
    stored_by: Mapped[str | None] = mapped_column(String(255))
    completed: Mapped[bool] = mapped_column(Boolean, default=True)
    client_id: Mapped[str | None] = mapped_column(String(255))
    transaction_id: Mapped[int | None] = mapped_column(Integer)
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportJob(Base):
    """An ``async=true`` import: its spooled payload, progress notifications and final summary."""

    __tablename__ = "dhis2_import_jobs"
    __table_args__ = (Index("ix_dhis2_import_jobs_status", "status"),)

    id: Mapped[str] = mapped_column(UID, primary_key=True)
    job_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))  # SCHEDULED, RUNNING, COMPLETED, FAILED
    client_id: Mapped[str] = mapped_column(String(255))
    request: Mapped[dict[str, Any]] = mapped_column(JSONType)  # format, params, version, spool file
    notifications: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the hub serve process running it (hub.instances); None before migration 0012
    instance: Mapped[str | None] = mapped_column(String(INSTANCE_NAME_LENGTH))


class ImportPayloadChunk(Base):
    """An async import's payload, written in pieces before the job is acknowledged, so a crash or
    a restart on another machine loses nothing and memory stays flat however big the payload."""

    __tablename__ = "dhis2_import_payload_chunks"

    job_id: Mapped[str] = mapped_column(
        UID, ForeignKey("dhis2_import_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
