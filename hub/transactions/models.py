"""One row per request through a channel, in OpenHIM's status vocabulary."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, JSONType, UTCDateTime, utcnow
from hub.settings import INSTANCE_NAME_LENGTH


class Status(enum.StrEnum):
    PROCESSING = "Processing"
    SUCCESSFUL = "Successful"
    COMPLETED = "Completed"
    COMPLETED_WITH_ERRORS = "Completed with error(s)"
    FAILED = "Failed"
    PENDING_ASYNC = "Pending Async"


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (
        # time ranges and retention
        Index("ix_transactions_started_at", "started_at"),
        # the body cull's own (0019): only rows it has yet to cull, so a run never reads the culled
        Index(
            "ix_transactions_unculled",
            "started_at",
            postgresql_where=text("bodies_culled IS false"),
            sqlite_where=text("bodies_culled IS 0"),
        ),
        # the admin list's filters, each ending in id: a page (newest first by id) is a range scan
        Index("ix_transactions_by_status", "status", "id"),
        Index("ix_transactions_by_channel", "channel_name", "id"),
        Index("ix_transactions_by_client", "client_id", "id"),
        # for the foreign key's ON DELETE SET NULL when a channel is deleted
        Index("ix_transactions_channel_pk", "channel_pk"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("transactions.id", ondelete="SET NULL"), index=True
    )
    request_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(255))
    channel_pk: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"))
    channel_name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32), default=Status.PROCESSING)
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text, default="")
    request_headers: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    request_body: Mapped[str | None] = mapped_column(Text)
    request_body_size: Mapped[int] = mapped_column(Integer, default=0)
    request_stored: Mapped[bool] = mapped_column(default=False)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSONType)
    response_body: Mapped[str | None] = mapped_column(Text)
    orchestrations: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # unbounded (0019): a mediator's reply names any urn, registered or not, and OpenHIM sets no limit
    mediator_urn: Mapped[str | None] = mapped_column(Text)
    # the primary's mediator reported the status: it stands when secondaries settle (0015)
    status_reported: Mapped[bool] = mapped_column(server_default=false())
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[float | None] = mapped_column()
    bodies_culled: Mapped[bool] = mapped_column(default=False)
    # the hub serve process that opened it (hub.instances); None outside one, or before 0011
    instance: Mapped[str | None] = mapped_column(String(INSTANCE_NAME_LENGTH))
