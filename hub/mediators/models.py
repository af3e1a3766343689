"""A registered mediator, as OpenHIM core keeps it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, JSONType, UTCDateTime, utcnow


class Mediator(Base):
    __tablename__ = "mediators"

    urn: Mapped[str] = mapped_column(String(300), primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    endpoints: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    default_channel_config: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    config_defs: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    config: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    config_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    uptime_s: Mapped[float | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
