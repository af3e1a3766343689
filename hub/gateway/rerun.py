"""Rerun a logged transaction through its channel as a new child transaction."""

from __future__ import annotations

import uuid

from anyio import to_thread
from sqlalchemy import select

from hub.auth.models import Client
from hub.auth.principal import Principal
from hub.auth.service import client_principal
from hub.errors import Conflict
from hub.gateway.body_policy import MASK
from hub.gateway.forward import GatewayRequest
from hub.gateway.pipeline import GatewayResponse, process
from hub.runtime import Runtime
from hub.transactions import service as transactions


def _load(runtime: Runtime, transaction_id: int) -> tuple[GatewayRequest, int | None, Principal | None]:
    with runtime.db.session() as session:
        tx = transactions.get(session, transaction_id)
        if not tx.request_stored:
            raise Conflict(
                f"transaction {transaction_id} cannot be rerun: its request body was not stored "
                "whole (body policy, size cap, redaction or culling)"
            )
        client = (
            session.scalar(select(Client).where(Client.client_id == tx.client_id)) if tx.client_id else None
        )
        if tx.client_id and (client is None or not client.enabled):
            raise Conflict(
                f"transaction {transaction_id} cannot be rerun: client {tx.client_id!r} is gone or disabled"
            )
        headers = {k: v for k, v in tx.request_headers.items() if v != MASK}
        request = GatewayRequest(
            tx.method, tx.path, tx.query, headers, (tx.request_body or "").encode(), uuid.uuid4().hex
        )
        return request, tx.channel_pk, client_principal(client, "rerun") if client else None


async def rerun(runtime: Runtime, transaction_id: int) -> GatewayResponse:
    """Send the stored request again through the channel it used; the child links to its parent."""
    request, channel_pk, principal = await to_thread.run_sync(_load, runtime, transaction_id)
    channel = next((c for c in runtime.channels.entries if c.id == channel_pk), None)
    if channel is None:
        raise Conflict(f"transaction {transaction_id} cannot be rerun: its channel is gone or disabled")
    return await process(runtime, channel, principal, request, parent_id=transaction_id)
