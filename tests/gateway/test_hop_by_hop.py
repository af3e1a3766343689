"""What is meant for one hop stays on it: the client's Connection options, Expect and Accept-Encoding
are not passed upstream, nor the upstream's Connection options and X-Request-ID back to the client;
an answer's Content-Encoding goes only with the codings the hub removed."""

from __future__ import annotations

import base64
import gzip
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from hub.transactions.models import Transaction
from tests.conftest import PARTNER, PASSWORD, channel
from tests.gateway.conftest import WireUpstream, http_response

pytestmark = pytest.mark.usefixtures("partner_password")

RESOURCE = b'{"resourceType":"Patient","id":"p1"}'
BASIC = b"Basic " + base64.b64encode(f"partner-1:{PASSWORD}".encode())


class OldUpstream:
    """An HTTP/1.0 server, as Python's ``http.server`` is by default: it knows no ``100 Continue``.
    It records each request's headers and body, and answers in a content coding it negotiates as
    nginx with Brotli does: ``br`` when the request accepts it, else gzip."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                if "br" in (self.headers.get("Accept-Encoding") or ""):
                    # what the bytes are does not matter: aiohttp cannot decode br here
                    coding, payload = "br", b"\x0b\x11\x80" + RESOURCE + b"\x03"
                else:
                    coding, payload = "gzip", gzip.compress(RESOURCE)
                self.send_response(201)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Encoding", coding)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                return

        return Handler


@pytest.fixture
def old_upstream() -> Iterator[OldUpstream]:
    upstream = OldUpstream()
    threading.Thread(target=upstream.server.serve_forever, daemon=True).start()
    yield upstream
    upstream.server.shutdown()


def start(make_hub: Any, *channels: dict[str, Any]) -> Any:
    return make_hub({"clients": [PARTNER], "channels": list(channels)})


def logged(hub: Any, tx_id: int) -> Transaction:
    with hub.runtime.db.session() as session:
        return session.scalars(select(Transaction).where(Transaction.id == tx_id)).one()


def raw_request(url: str, head: bytes, body: bytes) -> tuple[list[bytes], bytes]:
    """Send a request as written, its body at once (RFC 9110 10.1.1 lets a client that expects a
    100 not wait for it): the status line of each answer, interim ones too, and all it received."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(head + b"\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return [line for line in answer.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")], answer


def test_the_clients_accept_encoding_is_not_forwarded_so_the_upstream_answers_in_a_coding_the_hub_reads(
    make_hub, old_upstream: OldUpstream
):
    """A browser or ``curl --compressed`` accepts br; aiohttp cannot decode it here. Passed upstream,
    that made a 201 the upstream had applied a 502 (and the client's retry a duplicate)."""
    hub = start(make_hub, channel("fhir", r"/fhir/Patient", old_upstream.url))
    with hub.client("partner-1", PASSWORD) as c:
        r = c.post(
            "/fhir/Patient",
            content=b'{"resourceType":"Patient"}',
            headers={"content-type": "application/fhir+json", "accept-encoding": "gzip, deflate, br, zstd"},
        )
    assert (r.status_code, r.content) == (201, RESOURCE)
    assert "content-encoding" not in r.headers, "the hub decoded the gzip answer and sends it plain"
    [(headers, _)] = old_upstream.received
    assert "br" not in headers["accept-encoding"]
    tx = logged(hub, int(r.headers["x-hub-transaction-id"]))
    assert (tx.status, tx.response_status, tx.response_body) == ("Successful", 201, RESOURCE.decode())


def test_expect_100_continue_is_not_forwarded_once_the_hub_holds_the_body(
    make_hub, old_upstream: OldUpstream
):
    """uvicorn answers the client's ``Expect`` with 100; forwarded, it made aiohttp hold the body back
    for a 100 an HTTP/1.0 upstream never sends, until the route's timeout (504)."""
    hub = start(make_hub, channel("fhir", r"/fhir/Patient", old_upstream.url, timeout_s=3))
    body = b'{"resourceType":"Patient"}'
    statuses, answer = raw_request(
        hub.url,
        b"POST /fhir/Patient HTTP/1.1\r\nHost: hub\r\nAuthorization: " + BASIC + b"\r\n"
        b"Connection: close\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
        b"Content-Length: %d\r\n" % len(body),
        body,
    )
    assert statuses == [b"HTTP/1.1 100 Continue", b"HTTP/1.1 201 Created"]
    assert answer.endswith(b"\r\n\r\n" + RESOURCE)
    [(headers, received)] = old_upstream.received
    assert "expect" not in headers and received == body


def test_headers_the_connection_header_names_stay_on_their_hop(
    make_hub, upstream, upstream_log, wire: WireUpstream
):
    """RFC 9110 7.6.1: a proxy removes the fields its Connection header lists, and Proxy-Connection
    and Keep-Alive, whichever way the message goes; the other fields pass."""
    wire.answer(
        "/hop/answer",
        http_response(
            b"{}",
            b"content-type: application/json",
            b"connection: keep-alive, X-Backend-Node",
            b"x-backend-node: db-7",
            b"keep-alive: timeout=5",
            b"proxy-connection: keep-alive",
            b"x-passed: yes",
        ),
    )
    hub = start(make_hub, channel("hop", r"/hop/echo", upstream), channel("answer", r"/hop/answer", wire.url))
    with hub.client("partner-1", PASSWORD) as c:
        sent = c.get(
            "/hop/echo",
            headers={
                "connection": "close, X-Internal-Token",
                "x-internal-token": "hop-secret",
                "proxy-connection": "keep-alive",
                "keep-alive": "timeout=5",
                "x-trace": "passed",
            },
        )
        answered = c.get("/hop/answer")
    assert (sent.status_code, answered.status_code) == (200, 200)
    forwarded = upstream_log()[0]["headers"]
    assert not {"x-internal-token", "proxy-connection", "keep-alive"} & forwarded.keys()
    assert forwarded["x-trace"] == "passed"
    assert not {"x-backend-node", "keep-alive", "proxy-connection"} & answered.headers.keys()
    assert answered.headers["x-passed"] == "yes"


def test_a_plain_connection_header_drops_nothing_else(make_hub, upstream, upstream_log):
    plain = ["keep-alive", "Keep-Alive", "close"]
    hub = start(make_hub, channel("hop", r"/hop/echo", upstream))
    with hub.client("partner-1", PASSWORD) as c:
        answers = [c.get("/hop/echo", headers={"connection": v, "x-trace": v}) for v in plain]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert [seen["headers"]["x-trace"] for seen in upstream_log()] == plain


@pytest.mark.parametrize(
    ("coding", "passed"),
    [("x-gzip", "x-gzip"), ("gzip, identity", "gzip, identity"), ("gzip", None), ("GZIP", None)],
    ids=["x-gzip", "a-list", "gzip", "gzip-upper-case"],
)
def test_an_answer_keeps_its_content_encoding_unless_the_hub_decoded_it(
    make_hub, wire: WireUpstream, coding: str, passed: str | None
):
    """The hub decodes gzip and deflate; any other body (``x-gzip``, which RFC 9110 8.4.1.3 makes
    gzip, or a list naming ``identity``) reaches the client as the upstream sent it, and must keep
    the header that says how to read it."""
    path = f"/coded/{coding.replace(', ', '-')}"
    wire.answer(
        path,
        http_response(
            gzip.compress(RESOURCE),
            b"content-type: application/fhir+json",
            b"content-encoding: " + coding.encode(),
        ),
    )
    hub = start(make_hub, channel("coded", r"/coded/.*", wire.url))
    with hub.client("partner-1", PASSWORD) as c, c.stream("GET", path) as r:
        raw = b"".join(r.iter_raw())  # the body as it came, undecoded
    received = raw if passed is None else gzip.decompress(raw)
    assert r.status_code == 200
    assert r.headers.get("content-encoding") == passed
    assert received == RESOURCE


@pytest.mark.parametrize("upstream_id", ["client-rid-1", "upstream-generated-id"], ids=["echoed", "its-own"])
def test_the_client_gets_one_x_request_id_the_hubs(make_hub, wire: WireUpstream, upstream_id: str):
    """Many upstreams echo the id or make their own; the hub adds its own, so passing the upstream's
    gave the client two lines, one of them arbitrary to a client that reads one."""
    wire.answer(f"/rid/{upstream_id}", http_response(b"{}", b"x-request-id: " + upstream_id.encode()))
    hub = start(make_hub, channel("rid", r"/rid/.*", wire.url))
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get(f"/rid/{upstream_id}", headers={"x-request-id": "client-rid-1"})
    assert r.status_code == 200
    assert r.headers.get_list("x-request-id") == ["client-rid-1"]
    assert "x-request-id" not in logged(hub, int(r.headers["x-hub-transaction-id"])).response_headers
