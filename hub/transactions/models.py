"""One row per request through a channel, in OpenHIM's status vocabulary."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, JSONType, UTCDateTime, utcnow


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
        Index("ix_transactions_started_at", "started_at"),
        Index("ix_transactions_status_started_at", "status", "started_at"),
        Index("ix_transactions_channel_started_at", "channel_pk", "started_at"),
        Index("ix_transactions_client_started_at", "client_id", "started_at"),
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
    path: Mapped[str] = mapped_column(String(2000))
    query: Mapped[str] = mapped_column(String(4000), default="")
    request_headers: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    request_body: Mapped[str | None] = mapped_column(Text)
    request_body_size: Mapped[int] = mapped_column(Integer, default=0)
    request_stored: Mapped[bool] = mapped_column(default=False)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSONType)
    response_body: Mapped[str | None] = mapped_column(Text)
    orchestrations: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    mediator_urn: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[float | None] = mapped_column()
    bodies_culled: Mapped[bool] = mapped_column(default=False)
