"""The size cap on request bodies of the hub's own APIs (admin, mediators, FHIR, DHIS2)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.errors import PayloadTooLarge


class BodyLimit:
    """Refuse (413) a body over ``max_bytes``: by its Content-Length before a byte of it is read,
    else as soon as the bytes received pass the cap, so an oversized body is never held whole.

    Which endpoint a request reached is known once routing ran (Starlette records it in the
    scope), before anything reads the body: the check is made at the first read. Endpoints in
    ``own_limits`` are left alone: the channel gateway caps each channel itself, and the DHIS2
    data value import spools its body to disk.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, own_limits: Collection[Callable[..., Any]]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.own_limits = own_limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, self._capped(scope, receive), send)

    def _capped(self, scope: Scope, receive: Receive) -> Receive:
        received: int | None = None  # None until the first read

        async def capped() -> Message:
            nonlocal received
            if scope.get("endpoint") in self.own_limits:
                return await receive()
            if received is None:
                declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise self._too_large(f"request body of {int(declared)} bytes")
                received = 0
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise self._too_large("request body")
            return message

        return capped

    def _too_large(self, what: str) -> PayloadTooLarge:
        return PayloadTooLarge(f"{what} is over the hub API's limit of {self.max_bytes} bytes")
