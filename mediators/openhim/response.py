"""Build the ``application/json+openhim`` body a mediator answers with.

The shape itself lives in :mod:`hub.mediators.response`, which the hub parses with;
these helpers only fill it in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from hub.mediators.response import (
    CONTENT_TYPE,
    MediatorHttpResponse,
    MediatorResponse,
    Orchestration,
    OrchestrationRequest,
    js_timestamp,
)
from hub.transactions.models import Status

__all__ = ["CONTENT_TYPE", "build_response", "encode", "orchestration"]


def _timestamp(when: datetime | None = None) -> str:
    return js_timestamp(when or datetime.now(UTC))


def orchestration(
    name: str,
    *,
    method: str,
    url: str,
    request_headers: Mapping[str, str] | None = None,
    request_body: Any = None,
    status: int | None = None,
    response_headers: Mapping[str, str] | None = None,
    response_body: Any = None,
    started: datetime | None = None,
    finished: datetime | None = None,
    error: Any = None,
    group: str | None = None,
) -> Orchestration:
    """One step of the mediator's work: a call to ``url`` and, when it answered, its ``status``."""
    parts = urlsplit(url)
    request = OrchestrationRequest(
        method=method.upper(),
        host=parts.hostname,
        port=parts.port,
        path=parts.path or "/",
        querystring=parts.query,
        headers=dict(request_headers or {}),
        body=request_body,
        timestamp=_timestamp(started),
    )
    response = (
        None
        if status is None
        else MediatorHttpResponse(
            status=status,
            headers=dict(response_headers or {}),
            body=response_body,
            timestamp=_timestamp(finished),
        )
    )
    return Orchestration(name=name, group=group, request=request, response=response, error=error)


def build_response(
    urn: str,
    *,
    status: Status | str,
    http_status: int = 200,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    orchestrations: Iterable[Orchestration] = (),
    properties: Mapping[str, Any] | None = None,
    error: Any = None,
) -> MediatorResponse:
    """The whole answer: the transaction ``status`` core records and the HTTP reply it passes on."""
    return MediatorResponse(
        urn=urn,
        status=Status(status),
        response=MediatorHttpResponse(
            status=http_status, headers=dict(headers or {}), body=body, timestamp=_timestamp()
        ),
        orchestrations=list(orchestrations),
        properties=dict(properties or {}),
        error=error,
    )


def encode(response: MediatorResponse) -> bytes:
    """The JSON body to send with ``Content-Type: application/json+openhim``."""
    return response.model_dump_json(by_alias=True, exclude_none=True).encode()
