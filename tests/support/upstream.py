"""A real upstream HTTP server for tests, run as its own process: ``python -m tests.support.upstream PORT``.

Behaviour by path:
  /status/<code>[/...]     answer with that status
  /sleep/<seconds>[/...]   wait, then 200
  /flaky/<n>/<key>         503 for the first n calls with this key, then 200
  /openhim/<status>        an application/json+openhim mediator response with that transaction status
  /cookie                  200 with a Set-Cookie header
  /mirror                  200 with the request's own body and content type
  /_requests               GET: every request recorded so far (JSON); DELETE: forget them
  anything else            200 echo of method, path, query, headers and body
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECORDED: list[dict] = []
FLAKY: Counter[str] = Counter()
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        return

    def _reply(
        self, status: int, body: bytes, content_type: str = "application/json", *, cookie: str | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if cookie:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        if path == "/_requests":
            with LOCK:
                if self.command == "DELETE":
                    RECORDED.clear()
                    FLAKY.clear()
                payload = json.dumps(RECORDED).encode()
            self._reply(200, payload)
            return
        record = {
            "method": self.command,
            "path": path,
            "query": query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "at": time.time(),
        }
        with LOCK:
            RECORDED.append(record)
        parts = path.strip("/").split("/")
        if parts[0] == "status" and len(parts) > 1:
            self._reply(int(parts[1]), json.dumps({"status": int(parts[1])}).encode())
        elif parts[0] == "sleep" and len(parts) > 1:
            time.sleep(float(parts[1]))
            self._reply(200, b'{"slept": true}')
        elif parts[0] == "flaky" and len(parts) > 2:
            with LOCK:
                FLAKY[parts[2]] += 1
                calls = FLAKY[parts[2]]
            self._reply(503 if calls <= int(parts[1]) else 200, json.dumps({"call": calls}).encode())
        elif parts[0] == "mirror":
            self._reply(200, body, self.headers.get("Content-Type") or "application/octet-stream")
        elif parts[0] == "cookie":
            self._reply(200, b"{}", cookie="session=s3cr3t; Path=/")
        elif parts[0] == "openhim" and len(parts) > 1:
            status = parts[1].replace("%20", " ")
            doc = {
                "x-mediator-urn": "urn:mediator:test-upstream",
                "status": status,
                "response": {
                    "status": 200,
                    "headers": {"content-type": "application/json"},
                    "body": json.dumps({"mediated": True}),
                    "timestamp": "2026-01-01T00:00:00Z",
                },
                "orchestrations": [
                    {
                        "name": "lookup",
                        "request": {"method": "GET", "path": "/x"},
                        "response": {"status": 200, "body": "ok"},
                    }
                ],
                "properties": {"patients": 1},
            }
            self._reply(200, json.dumps(doc).encode(), "application/json+openhim; charset=utf-8")
        else:
            self._reply(200, json.dumps({k: record[k] for k in ("method", "path", "query", "body")}).encode())

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()
