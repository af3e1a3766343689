"""The outbox detail over real HTTP shows a queued request no more than its channel's body policy lets
the log keep: configured headers and JSON fields masked, bodies withheld or cut as the policy says."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from hub.db.session import Database
from hub.outbox.models import Delivery
from tests.conftest import PARTNER, PASSWORD, channel

pytestmark = pytest.mark.usefixtures("partner_password")

PATIENT = {"nationalId": "SECRET-ID", "visits": 2}


def queue_and_show(
    make_hub: Callable[..., Any], db: Database, upstream: str, policy: dict[str, Any]
) -> tuple[dict[str, Any], str, bytes]:
    """POST ``PATIENT`` through a channel with ``policy`` whose primary route is queued (and, with no
    worker, stays pending); returns the delivery's detail as JSON, its raw text and the stored body."""
    route = {
        "name": "registry",
        "url": upstream,
        "primary": True,
        "queued": True,
        "headers": {"X-Secret": "hide-me"},
    }
    doc = {
        "clients": [PARTNER],
        "channels": [channel("p", r"/p", upstream, routes=[route], body_policy=policy)],
    }
    hub = make_hub(doc)
    with hub.client("partner-1", PASSWORD) as c:
        tx_id = int(c.post("/p", json=PATIENT).headers["x-hub-transaction-id"])
    with db.session() as session:
        delivery_id, body = session.execute(
            select(Delivery.id, Delivery.body).where(Delivery.transaction_id == tx_id)
        ).one()
    with hub.admin() as admin:
        r = admin.get(f"/admin/outbox/{delivery_id}")
    assert r.status_code == 200, r.text
    return r.json(), r.text, body


def test_configured_headers_and_fields_are_masked(
    make_hub: Callable[..., Any], db: Database, upstream: str
) -> None:
    detail, text, body = queue_and_show(
        make_hub, db, upstream, {"redact_headers": ["x-secret"], "redact_fields": ["nationalId"]}
    )

    assert "hide-me" not in text and "SECRET-ID" not in text
    assert detail["headers"]["x-secret"] == "***"
    assert detail["headers"]["content-type"] == "application/json"
    assert orjson.loads(detail["body"]["excerpt"]) == {"nationalId": "***", "visits": 2}
    assert (detail["body"]["size"], detail["body"]["truncated"]) == (len(body), False)
    assert b"SECRET-ID" in body, "the delivery itself is sent whole"


def test_no_body_is_shown_when_the_channel_keeps_no_requests(
    make_hub: Callable[..., Any], db: Database, upstream: str
) -> None:
    detail, text, body = queue_and_show(make_hub, db, upstream, {"store_request": False})

    assert "SECRET-ID" not in text
    assert detail["body"] == {"size": len(body), "excerpt": None, "truncated": False}


def test_the_excerpt_is_never_longer_than_the_channel_keeps(
    make_hub: Callable[..., Any], db: Database, upstream: str
) -> None:
    detail, text, body = queue_and_show(make_hub, db, upstream, {"max_stored_bytes": 10})

    assert detail["body"] == {"size": len(body), "excerpt": body[:10].decode(), "truncated": True}
    assert "SECRET-ID" not in text
