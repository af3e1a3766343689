"""An upstream that answers each path with exactly the bytes a test gives it, for answers the shared
upstream cannot make (odd headers, mediator replies of any shape)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


def http_response(body: bytes, *header_lines: bytes, status: bytes = b"200 OK") -> bytes:
    """A whole HTTP/1.1 response as it goes on the wire; ``header_lines`` are raw ``name: value``."""
    head = [b"HTTP/1.1 " + status, b"content-length: " + str(len(body)).encode(), *header_lines]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def mediator_reply(status: str = "Successful", *, http_status: int = 200, **fields: Any) -> bytes:
    """An ``application/json+openhim`` answer; ``fields`` replace or add top-level members."""
    doc: dict[str, Any] = {
        "x-mediator-urn": "urn:mediator:wire-test",
        "status": status,
        "response": {"status": http_status, "headers": {"content-type": "application/json"}, "body": "{}"},
        **fields,
    }
    return http_response(json.dumps(doc).encode(), b"content-type: application/json+openhim")


class WireUpstream:
    """Answers ``path`` with the bytes given to :meth:`answer`, and records each request's path."""

    def __init__(self) -> None:
        self.answers: dict[str, bytes] = {}
        self.paths: list[str] = []
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, response: bytes) -> None:
        self.answers[path] = response

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream.paths.append(self.path)
                self.wfile.write(
                    upstream.answers.get(self.path) or http_response(b"", status=b"404 Not Found")
                )

            def log_message(self, *args: object) -> None:
                return

            do_GET = do_POST = _handle

        return Handler


@pytest.fixture(scope="module")
def wire() -> Iterator[WireUpstream]:
    upstream = WireUpstream()
    threading.Thread(target=upstream.server.serve_forever, daemon=True).start()
    yield upstream
    upstream.server.shutdown()
