"""Deliveries as the admin API shows them: bodies as a size and a text excerpt, never credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.outbox.models import Delivery, DeliveryStatus
from hub.outbox.service import excerpt

BODY_EXCERPT_BYTES = 4096
# The gateway never stores credentials in a delivery, but a route's fixed headers could hold one.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
REDACTED = "[redacted]"


class BodyInfo(BaseModel):
    size: int = Field(description="bytes")
    excerpt: str = Field(
        description=f"the first {BODY_EXCERPT_BYTES} bytes as UTF-8 (invalid bytes → U+FFFD)"
    )
    truncated: bool


class DeliverySummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    transaction_id: int | None
    route_name: str
    primary: bool = Field(description="a queued primary route: its outcome settles the transaction")
    method: str
    url: str
    status: DeliveryStatus
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    last_status: int | None = Field(description="HTTP status of the last attempt, if it got an answer")
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


class DeliveryDetail(DeliverySummary):
    idempotency_key: str = Field(description="sent as the Idempotency-Key header on every attempt")
    timeout_s: float
    headers: dict[str, str]
    body: BodyInfo | None
    auth_type: str | None = Field(description="credentials added at send time (basic, bearer, apitoken)")
    claimed_by: str | None = Field(description="worker holding the lease, or that made the last attempt")
    lease_until: datetime | None
    last_response: str | None = Field(description="excerpt of the last response body")

    @classmethod
    def of(cls, row: Delivery) -> DeliveryDetail:
        summary = DeliverySummary.model_validate(row).model_dump()
        body = None
        if row.body is not None:
            body = BodyInfo(
                size=len(row.body),
                excerpt=excerpt(row.body, BODY_EXCERPT_BYTES),
                truncated=len(row.body) > BODY_EXCERPT_BYTES,
            )
        return cls(
            **summary,
            idempotency_key=row.idempotency_key,
            timeout_s=row.timeout_s,
            headers={k: REDACTED if k.lower() in SECRET_HEADERS else v for k, v in row.headers.items()},
            body=body,
            auth_type=(row.auth or {}).get("type"),
            claimed_by=row.claimed_by,
            lease_until=row.lease_until,
            last_response=row.last_response,
        )


class DeliveryPage(BaseModel):
    items: list[DeliverySummary]
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page")


class RetryRequest(BaseModel):
    """Which failed or dead deliveries to send again; no status means both."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["failed", "dead"] | None = None
    route: str | None = None
    transaction_id: int | None = None


class RetryResult(BaseModel):
    retried: int
    ids: list[int]
