"""Mutual TLS for ``hub serve``: expose the client certificate's SHA-256 to the app.

uvicorn does not put the peer certificate in the ASGI scope, so this protocol adds
``scope["extensions"]["tls"]["client_cert_fingerprint"]`` for each request on a TLS
connection that presented a certificate (verified against ``HUB_TLS_CLIENT_CA``).
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol


class MutualTLSProtocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            return
        fingerprint = hashlib.sha256(der).hexdigest()
        inner = self.app

        async def with_fingerprint(scope: Scope, receive: Receive, send: Send) -> None:
            extensions: dict[str, Any] = scope.setdefault("extensions", {})
            extensions["tls"] = {**extensions.get("tls", {}), "client_cert_fingerprint": fingerprint}
            await inner(scope, receive, send)

        self.app = with_fingerprint
