"""Rerun a logged transaction through its channel as a new child transaction.

A rerun sends exactly the request that arrived, or is refused with a 409 that says why: a body
that was not stored whole (body policy, size cap, redaction) or that retention has culled, a
masked header the channel would have passed upstream, a masked query parameter, or an original
that is still in flight (Processing) or still owed by the outbox (Pending Async), which a rerun
would only duplicate.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from urllib.parse import unquote_plus

from anyio import to_thread
from sqlalchemy import select

from hub.auth.models import Client
from hub.auth.principal import Principal
from hub.auth.service import client_principal
from hub.channels.service import CompiledChannel
from hub.errors import Conflict, HubError
from hub.gateway.body_policy import MASK
from hub.gateway.forward import NOT_FORWARDED, GatewayRequest
from hub.gateway.pipeline import GatewayResponse, process
from hub.runtime import Runtime
from hub.transactions import service as transactions
from hub.transactions.models import Status

log = logging.getLogger("hub.gateway")

# A client's idempotency key is masked in the log; a rerun is a new attempt, not a replay of its key.
NOT_REPLAYED = frozenset({"idempotency-key"})


def _refused(transaction_id: int, why: str) -> Conflict:
    return Conflict(f"transaction {transaction_id} cannot be rerun: {why}")


def _load(
    runtime: Runtime, transaction_id: int
) -> tuple[GatewayRequest, int | None, Principal | None, frozenset[str]]:
    with runtime.db.session() as session:
        tx = transactions.get(session, transaction_id)
        if tx.status in (Status.PROCESSING, Status.PENDING_ASYNC):
            why = "still in progress" if tx.status == Status.PROCESSING else "still owed by the outbox"
            raise _refused(transaction_id, f"it is {tx.status} ({why}); a rerun would duplicate it")
        # a request without a body is whole whatever the body policy or retention did
        if tx.request_body_size and tx.bodies_culled:
            raise _refused(transaction_id, "retention has culled its request body")
        if tx.request_body_size and not tx.request_stored:
            raise _refused(
                transaction_id,
                "its request body was not stored whole (body policy, size cap or redaction)",
            )
        client = (
            session.scalar(select(Client).where(Client.client_id == tx.client_id)) if tx.client_id else None
        )
        if tx.client_id and (client is None or not client.enabled):
            raise _refused(transaction_id, f"client {tx.client_id!r} is gone or disabled")
        masked_query = [
            unquote_plus(pair.partition("=")[0]) for pair in tx.query.split("&") if pair.endswith(f"={MASK}")
        ]
        if masked_query:
            raise _refused(
                transaction_id,
                f"its query parameter(s) {', '.join(sorted(set(masked_query)))} were masked in the log "
                "(credentials or the body policy's fields); send the request again instead",
            )
        headers = {k: v for k, v in tx.request_headers.items() if v != MASK}
        masked = frozenset(k for k, v in tx.request_headers.items() if v == MASK)
        request = GatewayRequest(
            tx.method, tx.path, tx.query, headers, (tx.request_body or "").encode(), uuid.uuid4().hex
        )
        return request, tx.channel_pk, client_principal(client, "rerun") if client else None, masked


def _lost_headers(channel: CompiledChannel, masked: frozenset[str]) -> list[str]:
    """The masked headers some route of ``channel`` would pass upstream: a rerun cannot send them."""
    lost: set[str] = set()
    for route in channel.spec.routes:
        own = {name.lower() for name in route.headers}  # a route's own value replaces the client's
        for name in masked - own - NOT_REPLAYED:
            if name not in NOT_FORWARDED or (name == "authorization" and route.forward_auth):
                lost.add(name)
    return sorted(lost)


async def rerun(runtime: Runtime, transaction_id: int) -> GatewayResponse:
    """Send the stored request again through the channel it used; the child links to its parent."""
    request, channel_pk, principal, masked = await to_thread.run_sync(_load, runtime, transaction_id)
    channel = next((c for c in runtime.channels.entries if c.id == channel_pk), None)
    if channel is None:
        raise _refused(transaction_id, "its channel is gone or disabled")
    lost = _lost_headers(channel, masked)
    if lost:
        raise _refused(
            transaction_id,
            f"the log keeps only a mask of header(s) {', '.join(lost)}, which the channel passes upstream",
        )
    return await process(runtime, channel, principal, request, parent_id=transaction_id)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one rerun of many gave: the child transaction and its status, or why there is none."""

    child_id: int | None = None
    status: str | None = None
    error: str | None = None


async def rerun_outcome(runtime: Runtime, transaction_id: int) -> Outcome:
    """:func:`rerun`, for one of many: a refusal or a fault is its outcome, not the end of the rest."""
    try:
        done = await rerun(runtime, transaction_id)
    except HubError as exc:
        return Outcome(error=exc.detail)
    except Exception:
        log.exception("rerun failed", extra={"transaction_id": transaction_id})
        return Outcome(error="internal error; the hub's log has the details")
    return Outcome(done.transaction_id, done.transaction_status.value)
