"""A delivery: one HTTP request the hub owes an upstream."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, JSONType, UTCDateTime, utcnow


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DELIVERED = "delivered"
    FAILED = "failed"  # permanent rejection (4xx other than 408/429): recorded, not retried
    DEAD = "dead"  # transient failures until max attempts


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),  # workers' claims
        Index("ix_deliveries_created_at", "created_at"),
        # the body cull's own (0019): only bodies it has yet to cull (service.CULLED is the empty one)
        Index(
            "ix_deliveries_unculled",
            "created_at",
            postgresql_where=text("body <> ''::bytea"),
            sqlite_where=text("body <> X''"),
        ),
        # the admin list's filters, each ending in id: a page (newest first by id) is a range scan
        Index("ix_deliveries_by_status", "status", "id"),
        Index("ix_deliveries_by_route", "route_name", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("transactions.id", ondelete="SET NULL"), index=True
    )
    route_name: Mapped[str] = mapped_column(String(255))
    primary: Mapped[bool] = mapped_column(default=False)
    method: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    auth: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # RouteAuth: env var names, no secret
    timeout_s: Mapped[float] = mapped_column(default=30.0)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=10)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_response: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
