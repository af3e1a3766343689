"""Mutual TLS for ``hub serve``: expose the client certificate's SHA-256 to the app.

uvicorn does not put the peer certificate in the ASGI scope, so this protocol adds
``scope["extensions"]["tls"]["client_cert_fingerprint"]`` for each request on a TLS
connection that presented a certificate (verified against ``HUB_TLS_CLIENT_CA``).
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from typing import Any

from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from hub.settings import ConfigError, Settings


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's TLS arguments for ``settings`` (none: plain HTTP), once the files are known to load.

    uvicorn would load them only as it starts to listen, and say what was wrong as a traceback.
    """
    if not settings.tls_cert:
        return {}
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
        if settings.tls_client_ca:
            context.load_verify_locations(settings.tls_client_ca)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load HUB_TLS_CERT, HUB_TLS_KEY or HUB_TLS_CLIENT_CA: {exc}") from None
    options: dict[str, Any] = {"ssl_certfile": settings.tls_cert, "ssl_keyfile": settings.tls_key}
    if settings.tls_client_ca:
        options |= {
            "ssl_ca_certs": settings.tls_client_ca,
            "ssl_cert_reqs": ssl.CERT_OPTIONAL,
            "http": MutualTLSProtocol,
        }
    return options


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
