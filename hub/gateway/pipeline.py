"""The spine: log the request, call the primary route, queue the rest, close the transaction.

open (Processing) ─▶ primary route ─▶ close (status, orchestrations) + outbox deliveries
                    └ queued primary: close as Pending Async, the worker settles it later
                    └ any error in between: close as Failed, then raise it (a 500 unless a HubError)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from anyio import to_thread

from hub import metrics
from hub.auth.principal import Principal
from hub.channels.schemas import BodyPolicy, ChannelSpec, Route
from hub.channels.service import CompiledChannel
from hub.errors import HubError, PayloadTooLarge, UpstreamError
from hub.gateway import forward
from hub.gateway.body_policy import (
    body_bytes,
    call_orchestration,
    stored_body,
    stored_headers,
    stored_orchestration,
    stored_query,
    stored_reply_fields,
    stored_url,
)
from hub.gateway.forward import GatewayRequest, UpstreamResult
from hub.gateway.log_writer import LogUnavailable
from hub.logs import log_fault
from hub.mediators.response import InvalidMediatorReply, MediatorResponse, parse_reply
from hub.outbox.service import DeliverySpec
from hub.runtime import Runtime
from hub.transactions import service as transactions
from hub.transactions.models import Status

log = logging.getLogger("hub.gateway")


@dataclass(slots=True)
class GatewayResponse:
    status: int
    headers: Mapping[str, str]  # a MultiDict when a name may come on several lines
    body: bytes
    transaction_id: int
    transaction_status: Status


def request_cap(policy: BodyPolicy, hub_max: int) -> int:
    """The biggest request body a channel takes: its own limit, never above the hub's."""
    return min(policy.max_request_bytes or hub_max, hub_max)


def check_size(body_size: int, policy: BodyPolicy, hub_max: int) -> None:
    cap = request_cap(policy, hub_max)
    if body_size > cap:
        raise PayloadTooLarge(
            f"request body of {body_size} bytes is over this channel's limit of {cap} bytes"
        )


def _carries_body(status: int) -> bool:
    """Whether a response of ``status`` may have content: a 1xx, 204 or 304 has none (RFC 9110),
    and one sent with a body breaks its framing."""
    return status >= 200 and status not in (204, 304)


def _text(body: bytes, policy: BodyPolicy) -> str | None:
    return stored_body(body, policy, store=policy.store_response)[0]


def _orchestration(
    route: Route,
    method: str,
    url: str,
    policy: BodyPolicy,
    result: UpstreamResult | None,
    error: HubError | None = None,
) -> dict[str, Any]:
    """The primary route's call. Its bodies are the transaction's own request and response
    (as in OpenHIM), so they are stored once, there, not copied into the orchestration; its URL's
    query as the transaction's is stored."""
    url = stored_url(url, policy)
    if result is None:
        doc: dict[str, Any] = {"name": route.name, "request": {"method": method, "url": url}}
    else:
        doc = call_orchestration(route.name, method, url, result.started, result.elapsed_ms, result.status)
    if error is not None:
        doc["error"] = {"message": error.detail, **error.extra}
    return doc


def _delivery(
    route: Route, request: GatewayRequest, transaction_id: int, runtime: Runtime, timeout_s: float
) -> DeliverySpec:
    """A queued call; its credentials are not stored but derived from ``auth`` when it is sent."""
    return DeliverySpec(
        route_name=route.name,
        method=request.method,
        url=forward.upstream_url(route, request),
        headers=forward.upstream_headers(route, request, transaction_id, credentials=False),
        body=request.body or None,
        timeout_s=timeout_s,
        max_attempts=route.max_attempts or runtime.settings.outbox_max_attempts,
        primary=route.primary,
        auth=route.auth.model_dump() if route.auth else None,
    )


def _mediator_reply(result: UpstreamResult) -> MediatorResponse | None:
    try:
        return parse_reply(result.headers.get("content-type"), result.body)
    except InvalidMediatorReply as exc:
        raise UpstreamError(str(exc)) from exc


async def process(
    runtime: Runtime,
    channel: CompiledChannel,
    principal: Principal | None,
    request: GatewayRequest,
    *,
    parent_id: int | None = None,
) -> GatewayResponse:
    """Run one request through ``channel``; the transaction is written before any upstream call."""
    spec = channel.spec
    policy = spec.body_policy
    check_size(len(request.body), policy, runtime.settings.max_body_bytes)
    body_text, exact = stored_body(request.body, policy, store=policy.store_request)
    opening = transactions.Opening(
        request_id=request.request_id,
        method=request.method,
        path=request.path,
        query=stored_query(request.query, policy),
        client_id=principal.name if principal and principal.kind == "client" else None,
        channel_pk=channel.id,
        channel_name=channel.name,
        request_headers=stored_headers(request.headers, policy),
        request_body=body_text,
        request_body_size=len(request.body),
        request_stored=exact and policy.store_request,
        parent_id=parent_id,
    )
    t0 = time.perf_counter()
    try:
        tx_id, started = await runtime.log_writer.open(opening)
    except LogUnavailable:
        await _fail_unconfirmed(runtime, opening)
        raise
    try:
        response, closing, deliveries = await _run(runtime, spec, request, tx_id)
        # a close the database refuses even bare (hub.gateway.log_process) fails the request
        # too: its deliveries are not queued, and its transaction must not stay Processing
        await runtime.log_writer.close(tx_id, closing, started, deliveries)
    except Exception as exc:
        if isinstance(exc, LogUnavailable):
            await _fail_unconfirmed(runtime, opening)
        else:
            await _close_failed(runtime, tx_id, started, exc, opening)
        metrics.observe_request(channel.name, Status.FAILED, time.perf_counter() - t0)
        raise
    metrics.observe_request(channel.name, closing.status, time.perf_counter() - t0)
    return response


async def _run(
    runtime: Runtime, spec: ChannelSpec, request: GatewayRequest, tx_id: int
) -> tuple[GatewayResponse, transactions.Closing, list[DeliverySpec]]:
    """The work between a transaction's open and its close: the primary call (or its queueing),
    the deliveries to queue with the close."""
    primary = next(r for r in spec.routes if r.primary)
    timeout_for = lambda r: r.timeout_s or spec.timeout_s or runtime.settings.upstream_timeout_s  # noqa: E731
    deliveries = [
        _delivery(r, request, tx_id, runtime, timeout_for(r))
        for r in spec.routes
        if not r.primary or r.queued
    ]

    if primary.queued:
        body = orjson.dumps(
            {
                "transactionId": tx_id,
                "status": Status.PENDING_ASYNC.value,
                "message": f"accepted; delivery to {primary.name} is queued",
            }
        )
        response = GatewayResponse(
            202, {"content-type": "application/json"}, body, tx_id, Status.PENDING_ASYNC
        )
        closing = transactions.Closing(Status.PENDING_ASYNC, 202, response.headers, body.decode(), [], {})
        return response, closing, deliveries
    response, closing = await _call_primary(
        runtime, primary, request, tx_id, spec.body_policy, timeout_for(primary)
    )
    return response, closing, deliveries


async def _close_failed(
    runtime: Runtime, tx_id: int, started: int, exc: Exception, opening: transactions.Opening
) -> None:
    """Close a transaction whose processing raised as Failed, rather than leave it Processing
    until a restart. Its error names only the exception's class: its text may hold patient data.
    Should that close fail too (the database unreachable), the row is failed as unconfirmed."""
    message = f"the hub failed while processing this request ({type(exc).__name__}); see the hub log"
    status = exc.status if isinstance(exc, HubError) else 500
    closing = transactions.Closing(Status.FAILED, status, None, None, [], {}, error={"message": message})
    try:
        await runtime.log_writer.close(tx_id, closing, started, [])
    except Exception:
        log.exception("could not close a failed transaction", extra={"transaction_id": tx_id})
        await _fail_unconfirmed(runtime, opening)


async def _fail_unconfirmed(runtime: Runtime, opening: transactions.Opening) -> None:
    """The log writer did not confirm a write of this request, which may or may not have been
    committed: fail the row if it is there and still Processing, through the hub's own connection
    (a close the writer did commit stands). The row is found by request id and client, as a client
    may choose its request id (``X-Request-ID``), another's too. Should the database be unreachable
    too, every heartbeat tries again (:func:`fail_unconfirmed`) until it is done, rather than leave
    it until a restart."""
    request = transactions.ClientRequest(opening.request_id, opening.client_id)
    try:
        await to_thread.run_sync(_fail_rows, runtime, [request])
    except Exception as exc:
        runtime.log_writer.unconfirmed.add(request)
        log_fault(log, "could not fail a transaction its writer left unconfirmed; will try again", exc)


def fail_unconfirmed(runtime: Runtime) -> int:
    """Fail the rows still Processing of the requests :func:`_fail_unconfirmed` could not settle
    (blocking; the heartbeat's); how many. Raises, keeping them for the next try, when the database
    refuses."""
    owed = runtime.log_writer.unconfirmed
    taken = set(owed)
    if not taken:
        return 0
    failed = _fail_rows(runtime, taken)
    owed.difference_update(taken)
    return failed


def _fail_rows(runtime: Runtime, requests: Collection[transactions.ClientRequest]) -> int:
    with runtime.db.session() as session:
        return transactions.fail_unconfirmed(
            session, requests=requests, instance=runtime.settings.instance_name
        )


async def _call_primary(
    runtime: Runtime, route: Route, request: GatewayRequest, tx_id: int, policy: BodyPolicy, timeout_s: float
) -> tuple[GatewayResponse, transactions.Closing]:
    url = forward.upstream_url(route, request)
    try:
        result = await runtime.upstream.send(
            method=request.method,
            url=url,
            headers=forward.upstream_headers(route, request, tx_id),
            body=request.body,
            timeout_s=timeout_s,
        )
        reply = _mediator_reply(result)
    except UpstreamError as exc:
        log.warning("primary route failed", extra={"route": route.name, "error": exc.detail})
        problem = {
            "type": "about:blank",
            "title": exc.title,
            "status": exc.status,
            "detail": exc.detail,
            "transactionId": tx_id,
        }
        body = orjson.dumps(problem)
        headers = {"content-type": "application/problem+json"}
        closing = transactions.Closing(
            Status.FAILED,
            exc.status,
            headers,
            body.decode(),
            [_orchestration(route, request.method, url, policy, None, exc)],
            {},
            error={"message": exc.detail},
        )
        return GatewayResponse(exc.status, headers, body, tx_id, Status.FAILED), closing

    orchestration = _orchestration(route, request.method, url, policy, result)
    if reply is None:
        status = transactions.status_for(result.status)
        closing = transactions.Closing(
            status,
            result.status,
            stored_headers(result.headers, policy),
            # coded content is not the text it holds: not stored, as any body that is not text
            None if result.encoded else _text(result.body, policy),
            [orchestration],
            {},
        )
        return GatewayResponse(result.status, result.headers, result.body, tx_id, status), closing

    status = reply.transaction_status
    if reply.status is not None and status != reply.status:
        log.warning(
            "mediator reported a status that is not final for a finished call; status taken from HTTP",
            extra={"mediator": reply.urn, "reported": reply.status.value, "status": status.value},
        )
    body = body_bytes(reply.response.body) if _carries_body(reply.response.status) else b""
    headers = forward.response_headers(reply.response.header_fields())
    headers.setdefault("content-type", reply.response.default_content_type())
    closing = transactions.Closing(
        status,
        reply.response.status,
        stored_headers(headers, policy),
        _text(body, policy),
        [
            orchestration,
            *(
                stored_orchestration(o.model_dump(mode="json", exclude_none=True), policy)
                for o in reply.orchestrations
            ),
        ],
        **stored_reply_fields(reply, policy),
    )
    return GatewayResponse(reply.response.status, headers, body, tx_id, status), closing
