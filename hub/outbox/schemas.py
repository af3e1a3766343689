"""Deliveries as the admin API shows them: bodies as a size and a text excerpt, never credentials.

A delivery that came through a channel is shown as that channel's body policy lets the log keep it
(configured headers and JSON fields masked, no body when the channel stores no requests).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, object_session

from hub.api.fields import RowId
from hub.channels.schemas import BodyPolicy
from hub.gateway.body_policy import stored_body, stored_headers, stored_url
from hub.outbox.models import Delivery, DeliveryStatus
from hub.outbox.service import CULLED, channel_policies, channel_policy, excerpt

BODY_EXCERPT_BYTES = 4096
# Through no channel (the DHIS2 API's own deliveries): a route's fixed headers could hold a credential.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
REDACTED = "[redacted]"


class BodyInfo(BaseModel):
    size: int = Field(description="bytes")
    excerpt: str | None = Field(
        description=f"at most the first {BODY_EXCERPT_BYTES} bytes as UTF-8 (invalid bytes → U+FFFD), "
        "redacted and cut as the channel's body policy says; null when the policy keeps no request "
        "bodies or the body is not text"
    )
    truncated: bool = Field(description="the excerpt stops short of the body (as the policy shows it)")

    @classmethod
    def of(cls, body: bytes, policy: BodyPolicy | None) -> BodyInfo:
        if policy is None:
            shown: bytes | None = body
            limit = BODY_EXCERPT_BYTES
        else:
            # redacted whole, then cut here: never more than the policy's own cut
            whole = policy.model_copy(update={"max_stored_bytes": sys.maxsize})
            text, _ = stored_body(body, whole, store=policy.store_request)
            shown = None if text is None else text.encode()
            limit = min(BODY_EXCERPT_BYTES, policy.max_stored_bytes)
        if shown is None:
            return cls(size=len(body), excerpt=None, truncated=False)
        return cls(size=len(body), excerpt=excerpt(shown, limit), truncated=len(shown) > limit)


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

    @classmethod
    def shown(cls, row: Delivery, policy: BodyPolicy | None) -> DeliverySummary:
        """``row`` with its URL's query as the log keeps one (credentials, and the fields of
        ``policy``, its channel's, masked): the delivery itself keeps the URL it must send."""
        summary = cls.model_validate(row)
        summary.url = stored_url(row.url, policy or BodyPolicy())
        return summary

    @classmethod
    def page(cls, session: Session, rows: Sequence[Delivery]) -> list[DeliverySummary]:
        """:meth:`shown` of each row, their channels' policies read at once."""
        policies = channel_policies(session, (r.transaction_id for r in rows if r.transaction_id is not None))
        return [cls.shown(r, policies.get(r.transaction_id or 0)) for r in rows]


class DeliveryDetail(DeliverySummary):
    idempotency_key: str = Field(description="sent as the Idempotency-Key header on every attempt")
    timeout_s: float
    headers: dict[str, str]
    body: BodyInfo | None
    body_culled: bool = Field(description="retention has dropped the body: it can no longer be sent")
    auth_type: str | None = Field(description="credentials added at send time (basic, bearer, apitoken)")
    claimed_by: str | None = Field(description="worker holding the lease, or that made the last attempt")
    lease_until: datetime | None
    last_response: str | None = Field(description="excerpt of the last response body")

    @classmethod
    def of(cls, row: Delivery) -> DeliveryDetail:
        """``row`` as its channel's body policy lets it be shown; read in a session, which finds that."""
        session = object_session(row)
        if session is None:
            raise ValueError(f"delivery {row.id} is not in a session: its channel's body policy is unknown")
        policy = channel_policy(session, row.transaction_id)
        summary = DeliverySummary.shown(row, policy).model_dump()
        culled = row.body == CULLED
        body = None
        if row.body is not None and not culled:
            body = BodyInfo.of(row.body, policy)
        if policy is None:
            headers = {k: REDACTED if k.lower() in SECRET_HEADERS else v for k, v in row.headers.items()}
        else:
            headers = stored_headers(row.headers, policy)
        return cls(
            **summary,
            idempotency_key=row.idempotency_key,
            timeout_s=row.timeout_s,
            headers=headers,
            body=body,
            body_culled=culled,
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
    transaction_id: RowId | None = None


class RetryResult(BaseModel):
    retried: int
    ids: list[int]
