"""The route class of the hub's own JSON APIs whose bodies FastAPI reads (admin and mediator APIs).

FastAPI decodes a JSON body with the standard library, which lets a lone surrogate escape
(``"\\ud800"``) through as a string no database, UTF-8 nor JSON answer can hold: it would reach
the database (a 500 there, or on SQLite a row whose every later read is a 500). A NUL character
(``"\\u0000"``), which PostgreSQL's text refuses, would be stored altered. Routes of this
class refuse both as they read the body, through FastAPI's own path for a body it cannot read, so
the caller's credentials are still checked first (:mod:`hub.api.problems`)::

    router = APIRouter(prefix="/channels", route_class=JsonRoute)
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from hub import json_text
from hub.errors import BadRequest


class _JsonRequest(Request):
    async def json(self) -> Any:
        document = await super().json()
        if refused := json_text.unstorable_text(document):
            raise BadRequest(f"the body's JSON holds {refused}, which is not text the hub stores")
        return document


class JsonRoute(APIRoute):
    """An API route whose JSON body must be Unicode text throughout (400 otherwise)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            return await handler(_JsonRequest(request.scope, request.receive))

        return handle
