"""The OpenAPI document: FastAPI's, with each admin operation's problem+json answers and every
operation's security.

Every operation needs credentials unless its route says otherwise with ``openapi_extra=PUBLIC``:
HTTP Basic (admin users by e-mail, clients by client id), a bearer API token, or a client's TLS
certificate. Operations for users (the admin and mediator APIs) take no certificate but OpenHIM's
legacy token headers, as mediators built with ``openhim-mediator-utils`` 0.2.x send them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from hub.api import problems
from hub.api.deps import authenticate_user, depends_on

PUBLIC: dict[str, Any] = {"security": []}

SCHEMES: dict[str, Any] = {
    "basic": {
        "type": "http",
        "scheme": "basic",
        "description": "admin users by e-mail address, clients by client id",
    },
    "bearer": {"type": "http", "scheme": "bearer", "description": "an API token (`hub_…`), shown once"},
    "mutualTLS": {
        "type": "mutualTLS",
        "description": "a client certificate whose SHA-256 fingerprint a client has (with HUB_TLS_CLIENT_CA)",
    },
    "openhimToken": {
        "type": "apiKey",
        "in": "header",
        "name": "auth-token",
        "description": "OpenHIM's legacy token auth: with auth-username, auth-ts and auth-salt, "
        "after GET /authenticate/{user}; for users kept with legacy token auth",
    },
}
PASSWORDS = [{"basic": []}, {"bearer": []}]


def _declare_security(app: FastAPI, schema: dict[str, Any]) -> None:
    schema.setdefault("components", {})["securitySchemes"] = SCHEMES
    schema["security"] = [*PASSWORDS, {"mutualTLS": []}]
    for route in app.routes:
        if isinstance(route, APIRoute) and route.include_in_schema and depends_on(route, authenticate_user):
            for method in map(str.lower, route.methods):
                schema["paths"][route.path_format][method]["security"] = [*PASSWORDS, {"openhimToken": []}]


def install(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document, when first asked for, with its errors and security."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)  # made and kept by FastAPI: described once
            problems.document(app, schema)
            _declare_security(app, schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
