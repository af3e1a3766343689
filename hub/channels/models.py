"""Channels (path pattern → routes) and their audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, JSONType, UTCDateTime, utcnow


class Channel(Base):
    """A channel; ``routes`` and ``body_policy`` are validated by :mod:`hub.channels.schemas`."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    url_pattern: Mapped[str] = mapped_column(String(1000))
    methods: Mapped[list[str]] = mapped_column(JSONType, default=list)
    content_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    allowed_roles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    routes: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    timeout_s: Mapped[float | None] = mapped_column()
    body_policy: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(300), default="api")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ChannelAudit(Base):
    """One change to a channel: who, when, and the before/after documents."""

    __tablename__ = "channel_audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_pk: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"), index=True)
    channel_name: Mapped[str] = mapped_column(String(255), index=True)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
