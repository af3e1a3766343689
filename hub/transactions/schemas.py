"""Transactions as the admin API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.api.fields import RowId, UtcTimestamp


class TransactionSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    parent_id: int | None
    request_id: str
    client_id: str | None
    channel_name: str | None
    status: str
    method: str
    path: str
    response_status: int | None
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None


class TransactionDetail(TransactionSummary):
    query: str
    request_headers: dict[str, str]
    request_body: str | None
    request_body_size: int
    request_stored: bool
    response_headers: dict[str, str] | None
    response_body: str | None
    orchestrations: list[dict[str, Any]]
    properties: dict[str, Any]
    mediator_urn: str | None
    error: dict[str, Any] | None
    bodies_culled: bool
    instance: str | None = Field(
        None, description="the hub process that opened it (HUB_INSTANCE_NAME); None from before 0011"
    )
    children: list[int] = Field(default_factory=list)


class TransactionPage(BaseModel):
    items: list[TransactionSummary]
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page")


class RerunRequest(BaseModel):
    """Which transactions to rerun: ``ids``, or the oldest ``limit`` that match at least one filter."""

    model_config = ConfigDict(extra="forbid")
    ids: list[RowId] = Field(default_factory=list, max_length=1000)
    status: str | None = None
    channel: str | None = None
    since: UtcTimestamp | None = None
    until: UtcTimestamp | None = None
    limit: int = Field(100, ge=1, le=1000)

    @property
    def filtered(self) -> bool:
        return any((self.status, self.channel, self.since, self.until))


class RerunResult(BaseModel):
    parent_id: int
    child_id: int | None
    status: str | None
    error: str | None = None
