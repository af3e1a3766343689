"""The benchmark's upstream: a bare ASGI app that reads the request and answers a small JSON body.

``python bench/upstream_app.py PORT`` serves it with uvicorn on 127.0.0.1. It does as little as
possible so that the figures measure the caller, not the upstream.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.types import Receive, Scope, Send

BODY = b'{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational"}]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


if __name__ == "__main__":
    uvicorn.run(
        app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False, lifespan="off"
    )
