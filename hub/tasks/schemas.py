"""Request and response bodies of the rerun tasks API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from hub.api.fields import RowId, UtcTimestamp
from hub.tasks.models import TaskStatus

MAX_ITEMS = 10_000


class TaskRequest(BaseModel):
    """Which transactions to rerun: ``ids``, or the oldest ``limit`` that match at least one filter."""

    model_config = ConfigDict(extra="forbid")
    ids: list[RowId] = Field(default_factory=list, max_length=MAX_ITEMS)
    status: str | None = None
    channel: str | None = None
    since: UtcTimestamp | None = None
    until: UtcTimestamp | None = None
    limit: int = Field(1000, ge=1, le=MAX_ITEMS)
    batch_size: int = Field(5, ge=1, le=100, description="reruns sent side by side")
    paused: bool = Field(False, description="create it Paused; queue it later with PUT")

    @property
    def filtered(self) -> bool:
        return any((self.status, self.channel, self.since, self.until))


class TaskMove(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: TaskStatus = Field(description="Paused, Cancelled, or Queued to resume")


class TaskSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    status: str
    batch_size: int
    created_by: str
    created_at: datetime
    completed_at: datetime | None


class TaskDetail(TaskSummary):
    items: dict[str, int] = Field(description="how many transactions are in each state")
    total: int


class TaskPage(BaseModel):
    items: list[TaskSummary]
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page")


class TaskItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    position: int
    transaction_id: int
    status: str
    child_id: int | None
    rerun_status: str | None
    error: str | None
    finished_at: datetime | None


class TaskItemPage(BaseModel):
    items: list[TaskItem]
    next_after_position: int | None = Field(description="pass as after_position for the next page")
