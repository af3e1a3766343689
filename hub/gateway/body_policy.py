"""What of a request or response is kept in the log: headers without secrets, bodies capped and redacted.

The same rules cover the calls a mediator reports in its orchestrations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import orjson

from hub.channels.schemas import BodyPolicy
from hub.gateway.forward import combined
from hub.mediators.response import MediatorResponse, header_lines

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


def stored_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]], policy: BodyPolicy
) -> dict[str, str]:
    """Headers (a mapping, or lines) as stored: one field per lower-case name (a name sent on
    several lines joined, :func:`combined`), secrets and configured headers masked."""
    hidden = _hidden(tuple(policy.redact_headers)) if policy.redact_headers else ALWAYS_REDACTED
    if type(headers) is dict:  # a name once each: only the case of names can differ
        fields = {k.lower(): v for k, v in headers.items()}
        if len(fields) < len(headers):
            fields = combined(headers.items())
    else:
        fields = combined(headers.items() if isinstance(headers, Mapping) else headers)
    for name in hidden.intersection(fields):
        fields[name] = MASK
    return fields


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


def stored_document(doc: Any, policy: BodyPolicy) -> Any:
    """A JSON document a mediator reports beside its messages (its properties, its error) as stored:
    the channel's configured fields masked wherever they appear in it."""
    return _redact(doc, frozenset(policy.redact_fields))[0] if policy.redact_fields else doc


def body_bytes(body: Any) -> bytes:
    """A mediator message's body as sent: text as UTF-8, a JSON document serialised, none as empty."""
    if body is None:
        return b""
    return body.encode() if isinstance(body, str) else orjson.dumps(body)


# An orchestration's own labels, and the fields of HTTP a message has beside its headers and body:
# stored as they are. Every other field a mediator reports has the channel's field redaction.
LABELS = frozenset({"name", "group"})
MESSAGE_FIELDS = frozenset(
    {"method", "url", "path", "host", "port", "querystring", "status", "timestamp", "headers", "body"}
)


def _redacted_except(doc: dict[str, Any], kept: frozenset[str], policy: BodyPolicy) -> dict[str, Any]:
    """``doc`` with the channel's fields masked everywhere but in the fields named ``kept``."""
    redacted = stored_document({k: v for k, v in doc.items() if k not in kept}, policy)
    return {k: v if k in kept else redacted[k] for k, v in doc.items()}


def _stored_message(message: dict[str, Any], policy: BodyPolicy, *, store: bool) -> dict[str, Any]:
    headers = stored_headers(header_lines(message.get("headers") or {}), policy)
    kept = {**_redacted_except(message, MESSAGE_FIELDS, policy), "headers": headers}
    if "body" in message:
        body = message["body"]
        content_type = str(headers.get("content-type", "")) if isinstance(body, str) else "application/json"
        text, _ = stored_body(body_bytes(body), content_type, policy, store=store)
        if text is None:
            del kept["body"]
        else:
            kept["body"] = text
    return kept


def stored_orchestration(orchestration: dict[str, Any], policy: BodyPolicy) -> dict[str, Any]:
    """A mediator's orchestration as stored: its request and response under the channel's policy,
    as the transaction's own request and response are, and the configured fields masked in all
    else it reports (its error, any field of its own) but its name and group."""
    messages = {
        part: _stored_message(orchestration[part], policy, store=store)
        for part, store in (("request", policy.store_request), ("response", policy.store_response))
        if isinstance(orchestration.get(part), dict)
    }
    return {**_redacted_except(orchestration, LABELS.union(messages), policy), **messages}


def stored_reply_fields(reply: MediatorResponse, policy: BodyPolicy) -> dict[str, Any]:
    """What a mediator's reply sets on its transaction beside the response and orchestrations: its
    urn, and its properties and error with the channel's configured fields masked."""
    return {
        "mediator_urn": reply.urn,
        "properties": stored_document(reply.properties, policy),
        "error": None if reply.error is None else {"message": str(stored_document(reply.error, policy))},
    }
