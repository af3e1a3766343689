"""The ceiling for the hub's stack: a pass-through proxy with no auth, no logging and no database.

``python bench/passthrough.py UPSTREAM_URL PORT`` serves it on 127.0.0.1 with the same uvicorn
arguments and garbage-collector settings as ``hub serve``, the hub's own upstream client
(``hub.gateway.forward.Upstream``) and the hub's header rules, so the only difference from the
hub is what the hub does on top of forwarding.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from hub.gateway.forward import NOT_FORWARDED, Upstream
from hub.gateway.router import METHODS
from hub.runtime import settle_heap


def create_app(upstream: str) -> FastAPI:
    client = Upstream()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await client.aclose()

    async def proxy(request: Request) -> Response:
        url = upstream + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        headers = {k: v for k, v in request.headers.items() if k not in NOT_FORWARDED}
        answer = await client.send(
            method=request.method, url=url, headers=headers, body=await request.body(), timeout_s=30.0
        )
        return Response(answer.body, status_code=answer.status, headers=answer.headers)

    app = FastAPI(lifespan=lifespan)
    app.add_route("/{path:path}", proxy, methods=METHODS, include_in_schema=False)
    return app


if __name__ == "__main__":
    proxy = create_app(sys.argv[1].rstrip("/"))
    settle_heap()  # as `hub serve` does
    uvicorn.run(
        proxy,
        host="127.0.0.1",
        port=int(sys.argv[2]),
        log_config=None,
        access_log=False,
    )
