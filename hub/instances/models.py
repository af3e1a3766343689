"""One row per ``hub serve`` process that has beaten: a process whose heartbeat stopped is dead."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, UTCDateTime
from hub.settings import INSTANCE_NAME_LENGTH


class HubInstance(Base):
    __tablename__ = "hub_instances"

    name: Mapped[str] = mapped_column(String(INSTANCE_NAME_LENGTH), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
