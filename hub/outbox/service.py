"""Outbox rules: enqueue with the log update; claim, settle and retry are the worker's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from hub.db.base import utcnow
from hub.outbox.models import Delivery, DeliveryStatus

IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(slots=True)
class DeliverySpec:
    route_name: str
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    timeout_s: float
    max_attempts: int
    primary: bool = False
    auth: dict[str, Any] | None = None


def enqueue(session: Session, *, transaction_id: int | None, deliveries: list[DeliverySpec]) -> list[str]:
    """Write deliveries in the caller's DB transaction; returns their idempotency keys."""
    if not deliveries:
        return []
    now = utcnow()
    rows = [
        {
            "transaction_id": transaction_id,
            "route_name": d.route_name,
            "primary": d.primary,
            "method": d.method,
            "url": d.url,
            "headers": d.headers,
            "body": d.body,
            "timeout_s": d.timeout_s,
            "max_attempts": d.max_attempts,
            "auth": d.auth,
            "idempotency_key": uuid.uuid4().hex,
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for d in deliveries
    ]
    session.execute(insert(Delivery), rows)
    return [r["idempotency_key"] for r in rows]
