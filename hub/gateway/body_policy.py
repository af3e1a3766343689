"""What of a request or response is kept in the log: headers and query without secrets, bodies
capped and redacted (failing closed: a body that cannot be redacted is not kept).

The same rules cover the calls a mediator reports in its orchestrations; the hub's own calls
are recorded here as orchestrations too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

from hub import json_text
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
        "api-key",
        "apikey",
        "x-auth-token",
        "x-access-token",
        "access-token",
        "private-token",
        "x-csrf-token",
        "idempotency-key",
    }
)
# query parameters that carry credentials, whatever the channel configures
CREDENTIAL_PARAMETERS = frozenset(
    {
        "access_token",
        "token",
        "api_key",
        "apikey",
        "key",
        "password",
        "secret",
        "client_secret",
        "sig",
        "signature",
    }
)
MASK = "***"
# a FHIR search parameter's modifier or chain: identifier:exact, subject:Patient.identifier
_SEARCH_PARTS = re.compile(r"[:.]")


@lru_cache(maxsize=256)
def _hidden(always: frozenset[str], configured: tuple[str, ...]) -> frozenset[str]:
    return always | {name.lower() for name in configured}


def stored_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]], policy: BodyPolicy
) -> dict[str, str]:
    """Headers (a mapping, or lines) as stored: one field per lower-case name (a name sent on
    several lines joined, :func:`combined`), secrets and configured headers masked."""
    configured = policy.redact_headers
    hidden = _hidden(ALWAYS_REDACTED, tuple(configured)) if configured else ALWAYS_REDACTED
    if type(headers) is dict:  # a name once each: only the case of names can differ
        fields = {k.lower(): v for k, v in headers.items()}
        if len(fields) < len(headers):
            fields = combined(headers.items())
    else:
        fields = combined(headers.items() if isinstance(headers, Mapping) else headers)
    for name in hidden.intersection(fields):
        fields[name] = MASK
    return fields


@lru_cache(maxsize=256)
def _lowered(fields: tuple[str, ...]) -> frozenset[str]:
    return frozenset(f.lower() for f in fields)


def _redact(doc: Any, fields: frozenset[str]) -> tuple[Any, bool]:
    """``doc`` with the value of every key in ``fields`` (lower-case) masked, the key in any case:
    upstreams such as ASP.NET Core bind JSON keys without regard to case."""
    if isinstance(doc, dict):
        changed = False
        out: dict[str, Any] = {}
        for key, value in doc.items():
            if key.lower() in fields:
                out[key], changed = MASK, True
            else:
                out[key], sub = _redact(value, fields)
                changed = changed or sub
        return out, changed
    if isinstance(doc, list):
        items = [_redact(v, fields) for v in doc]
        return [i[0] for i in items], any(i[1] for i in items)
    return doc, False


def stored_query(query: str, policy: BodyPolicy) -> str:
    """The query string as stored: the values of credential parameters and of the channel's
    configured fields masked, also under a FHIR modifier or in a chain (``identifier:exact``,
    ``subject:Patient.identifier``); the upstream gets them as sent."""
    if not query:
        return query
    configured = policy.redact_fields
    hidden = _hidden(CREDENTIAL_PARAMETERS, tuple(configured)) if configured else CREDENTIAL_PARAMETERS
    pairs = query.split("&")
    masked = False
    for i, pair in enumerate(pairs):
        name, equals, _ = pair.partition("=")
        if equals and _hidden_name(unquote_plus(name).lower(), hidden):
            pairs[i], masked = f"{name}={MASK}", True
    return "&".join(pairs) if masked else query


def _hidden_name(name: str, hidden: frozenset[str]) -> bool:
    return name in hidden or (
        ("." in name or ":" in name) and not hidden.isdisjoint(_SEARCH_PARTS.split(name))
    )


def stored_url(url: str, policy: BodyPolicy) -> str:
    """A URL (or a path with its query) as stored or shown: its query as :func:`stored_query` keeps it."""
    base, mark, query = url.partition("?")
    return f"{base}?{stored_query(query, policy)}" if mark else url


def _redacted(body: bytes, text: str, fields: list[str]) -> tuple[str | None, bool]:
    """Redaction fails closed: a body that is JSON, whatever its content type says, has the
    fields masked; any other is kept only if it names none of them."""
    lowered = _lowered(tuple(fields))
    try:
        doc, changed = _redact(json_text.loads(body), lowered)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to walk
        folded = text.lower()
        return (None, False) if any(field in folded for field in lowered) else (text, True)
    return (json_text.dumps(doc).decode(), False) if changed else (text, True)


def stored_body(body: bytes, policy: BodyPolicy, *, store: bool) -> tuple[str | None, bool]:
    """(text to store, whether it is exactly the body received) under the channel's policy. A
    body that is not text (not UTF-8, or with NUL characters, which PostgreSQL's text refuses)
    is not stored. Redaction looks at what a body is, not at the content type it claims."""
    if not store or not body:
        return (None, not body)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None, False
    if "\x00" in text:
        return None, False
    exact = True
    if policy.redact_fields:
        redacted, exact = _redacted(body, text, policy.redact_fields)
        if redacted is None:
            return None, False
        text = redacted
    if len(text) > policy.max_stored_bytes:
        text, exact = text[: policy.max_stored_bytes], False
    return text, exact


def stored_document(doc: Any, policy: BodyPolicy) -> Any:
    """A JSON document a mediator reports beside its messages (its properties, its error) as stored:
    the channel's configured fields masked wherever they appear in it."""
    return _redact(doc, _lowered(tuple(policy.redact_fields)))[0] if policy.redact_fields else doc


def body_bytes(body: Any) -> bytes:
    """A mediator message's body as sent: text as UTF-8, a JSON document serialised, none as empty."""
    if body is None:
        return b""
    return body.encode() if isinstance(body, str) else json_text.dumps(body)


def call_orchestration(
    name: str, method: str, url: str, started: datetime, elapsed_ms: float, status: int | None
) -> dict[str, Any]:
    """The orchestration of a call the hub made itself: its request stamped when sent, and its
    response, when one came (``status``), when it had come."""
    doc: dict[str, Any] = {
        "name": name,
        "request": {"method": method, "url": url, "timestamp": started.isoformat()},
        "duration_ms": round(elapsed_ms, 3),
    }
    if status is not None:
        answered = started + timedelta(milliseconds=elapsed_ms)
        doc["response"] = {"status": status, "timestamp": answered.isoformat()}
    return doc


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


# the fields of a reported message that may carry a query string
QUERIES = {"querystring": stored_query, "url": stored_url, "path": stored_url}


def _stored_message(message: dict[str, Any], policy: BodyPolicy, *, store: bool) -> dict[str, Any]:
    headers = stored_headers(header_lines(message.get("headers") or {}), policy)
    kept = {**_redacted_except(message, MESSAGE_FIELDS, policy), "headers": headers}
    for field, stored in QUERIES.items():
        if isinstance(kept.get(field), str):
            kept[field] = stored(kept[field], policy)
    if "body" in message:
        text, _ = stored_body(body_bytes(message["body"]), policy, store=store)
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
    urn, whether it reported the status, and its properties and error with the channel's
    configured fields masked."""
    return {
        "mediator_urn": reply.urn,
        "status_reported": reply.reported_status is not None,
        "properties": stored_document(reply.properties, policy),
        "error": _stored_error(reply.error, policy),
    }


def _stored_error(error: Any, policy: BodyPolicy) -> dict[str, Any] | None:
    """A mediator's error as OpenHIM keeps it: an object as it is (``{message, stack}``), text as
    its message, any other JSON value as its JSON text."""
    if error is None or isinstance(error, dict):
        return stored_document(error, policy)
    if isinstance(error, str):
        return {"message": error}
    return {"message": json_text.dumps(stored_document(error, policy)).decode()}
