"""Rerun tasks, as OpenHIM core's: many transactions rerun in the background, a batch at a time."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, UTCDateTime, utcnow
from hub.settings import INSTANCE_NAME_LENGTH


class TaskStatus(enum.StrEnum):
    """OpenHIM's task states. Queued and Processing tasks run; Paused and Cancelled wait for an
    admin to queue them again; Completed is final."""

    QUEUED = "Queued"
    PROCESSING = "Processing"
    PAUSED = "Paused"
    CANCELLED = "Cancelled"
    COMPLETED = "Completed"


class ItemStatus(enum.StrEnum):
    QUEUED = "Queued"
    PROCESSING = "Processing"
    COMPLETED = "Completed"  # rerun: ``child_id`` is the new transaction
    FAILED = "Failed"  # refused or broken: ``error`` says why


class RerunTask(Base):
    __tablename__ = "rerun_tasks"
    __table_args__ = (Index("ix_rerun_tasks_by_status", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.QUEUED)
    batch_size: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RerunTaskItem(Base):
    """One transaction of a task, rerun once, in ``position`` order."""

    __tablename__ = "rerun_task_items"
    __table_args__ = (
        Index("ix_rerun_task_items_by_status", "task_id", "status", "position"),
        # the take-over of items in flight (hub.instances), across tasks
        Index("ix_rerun_task_items_in_flight", "status", "instance"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("rerun_tasks.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    transaction_id: Mapped[int] = mapped_column(BigId)  # no foreign key: retention may purge it meanwhile
    status: Mapped[str] = mapped_column(String(16), default=ItemStatus.QUEUED)
    child_id: Mapped[int | None] = mapped_column(BigId)
    rerun_status: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the hub serve process that claimed it (hub.instances)
    instance: Mapped[str | None] = mapped_column(String(INSTANCE_NAME_LENGTH))
