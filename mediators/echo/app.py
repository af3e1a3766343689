"""The echo mediator's registration document and HTTP server."""

from __future__ import annotations

from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mediators import openhim

URN = "urn:mediator:hub-echo"
VERSION = "1.0.0"
DEFAULT_CONFIG: dict[str, Any] = {"greeting": "hello", "status": "Successful"}


def registration(*, host: str, port: int, urn: str = URN) -> dict[str, Any]:
    """What the echo registers: itself at ``host:port`` and a default channel ``/echo`` routed to it."""
    route = {"name": "Echo mediator", "host": host, "port": port, "primary": True, "type": "http"}
    return {
        "urn": urn,
        "version": VERSION,
        "name": "Echo mediator",
        "description": "Answers every request with what it received, as an OpenHIM mediator response",
        "endpoints": [route],
        "defaultChannelConfig": [
            {
                "name": "Echo",
                "urlPattern": "^/echo(/.*)?$",
                "methods": ["GET", "POST", "PUT"],
                "allow": ["echo"],
                "authType": "private",
                "routes": [route],
            }
        ],
        "configDefs": [
            {"param": "greeting", "displayName": "Greeting", "type": "string"},
            {
                "param": "status",
                "displayName": "Transaction status to report",
                "type": "option",
                "values": ["Successful", "Completed", "Completed with error(s)"],
            },
        ],
        "config": DEFAULT_CONFIG,
    }


class EchoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], urn: str = URN) -> None:
        super().__init__(address, EchoHandler)
        self.urn = urn
        # Replaced whole, never mutated: handler threads see the old dict or the new one.
        self.config: dict[str, Any] = dict(DEFAULT_CONFIG)

    def configure(self, config: dict[str, Any]) -> None:
        """Take a config from core (heartbeat or fetch); params it leaves out keep their defaults."""
        self.config = {**DEFAULT_CONFIG, **config}


class EchoHandler(BaseHTTPRequestHandler):
    server: EchoServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        return  # the hub logs every transaction; a second access log here adds nothing

    def _echo(self) -> None:
        started = datetime.now(UTC)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = raw.decode("utf-8", "replace")
        path, _, query = self.path.partition("?")
        config = self.server.config
        answer = {
            "greeting": config["greeting"],
            "method": self.command,
            "path": path,
            "query": query,
            "body": body,
            "transactionId": self.headers.get("x-openhim-transactionid"),
        }
        host, port = self.server.server_address[:2]
        step = openhim.orchestration(
            "echo",
            method=self.command,
            url=f"http://{host}:{port}{self.path}",
            request_body=body,
            status=200,
            response_body=answer,
            started=started,
        )
        reply = openhim.encode(
            openhim.build_response(
                self.server.urn,
                status=config["status"],
                body=answer,
                headers={"content-type": "application/json"},
                orchestrations=[step],
                properties={"greeting": config["greeting"]},
            )
        )
        self.send_response(200)
        self.send_header("Content-Type", openhim.CONTENT_TYPE)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _echo  # noqa: N815 - the names http.server calls
