"""What of a request or response is kept in the log: headers without secrets, bodies capped and redacted."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

from hub.channels.schemas import BodyPolicy

ALWAYS_REDACTED = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "auth-token",
        "auth-salt",
        "x-api-key",
        "idempotency-key",
    }
)
MASK = "***"


@lru_cache(maxsize=256)
def _hidden(configured: tuple[str, ...]) -> frozenset[str]:
    return ALWAYS_REDACTED | {h.lower() for h in configured}


def stored_headers(headers: Any, policy: BodyPolicy) -> dict[str, str]:
    """Headers as stored: lower-case names, secrets and configured headers masked."""
    hidden = _hidden(tuple(policy.redact_headers)) if policy.redact_headers else ALWAYS_REDACTED
    return {k.lower(): (MASK if k.lower() in hidden else v) for k, v in headers.items()}


def _redact(doc: Any, fields: frozenset[str]) -> tuple[Any, bool]:
    if isinstance(doc, dict):
        changed = False
        out: dict[str, Any] = {}
        for key, value in doc.items():
            if key in fields:
                out[key], changed = MASK, True
            else:
                out[key], sub = _redact(value, fields)
                changed = changed or sub
        return out, changed
    if isinstance(doc, list):
        items = [_redact(v, fields) for v in doc]
        return [i[0] for i in items], any(i[1] for i in items)
    return doc, False


def stored_body(
    body: bytes, content_type: str | None, policy: BodyPolicy, *, store: bool
) -> tuple[str | None, bool]:
    """(text to store, whether it is exactly the body received) under the channel's policy."""
    if not store or not body:
        return (None, not body)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None, False
    exact = True
    if policy.redact_fields and "json" in (content_type or "").lower():
        try:
            doc, changed = _redact(orjson.loads(body), frozenset(policy.redact_fields))
        except orjson.JSONDecodeError:
            doc, changed = None, False
        if changed:
            text, exact = orjson.dumps(doc).decode(), False
    if len(text) > policy.max_stored_bytes:
        text, exact = text[: policy.max_stored_bytes], False
    return text, exact
