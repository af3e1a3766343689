"""The admin and mediator APIs authenticate before they say anything about a body, and cap bodies at
HUB_MAX_BODY_BYTES as they stream in (413); channel traffic keeps its own cap. The OpenAPI document
describes their problem+json answers. Over real HTTP on loopback, on each backend."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from hub.api.app import create_app
from tests.admin.conftest import PASSWORD
from tests.conftest import ADMIN, channel, hub_settings

PROBLEM = "application/problem+json"
CAP = 4096
VIEWER = ("viewer@hub.test", "viewer-password-1")
WRITES = [
    ("POST", "/admin/users"),
    ("POST", "/admin/clients"),
    ("PUT", "/admin/channels/echo"),
    ("POST", "/mediators"),
    ("POST", "/mediators/urn:mediator:x/heartbeat"),
]


def over_the_cap() -> Iterator[bytes]:
    """A body sent chunked (no Content-Length), past the cap."""
    for _ in range(4):
        yield b" " * 2048


BODIES = {  # what is sent, and what an admin gets for it
    "not JSON": (lambda: b'{"email": ', 400),
    "over the cap": (lambda: b" " * (CAP + 1), 413),
    "over the cap, chunked": (over_the_cap, 413),
}


@pytest.fixture
def hub(make_hub, upstream, monkeypatch):
    monkeypatch.setenv("P1_PASSWORD", PASSWORD)
    hub = make_hub(
        {
            "clients": [
                {"client_id": "p1", "name": "P1", "roles": ["partner"], "password_env": "P1_PASSWORD"}
            ],
            "channels": [channel("echo", r"/echo", upstream)],
        },
        max_body_bytes=CAP,
    )
    with hub.admin() as admin:
        viewer = {"email": VIEWER[0], "password": VIEWER[1], "groups": ["viewer"]}
        admin.post("/admin/users", json=viewer).raise_for_status()
    return hub


def test_the_caller_is_refused_before_anything_is_said_of_its_body(hub):
    callers = {"nobody": (None, 401), "a viewer": (VIEWER, 403), "an admin": (ADMIN, None)}
    for method, path in WRITES:
        for body_name, (body, admin_status) in BODIES.items():
            for caller, (auth, status) in callers.items():
                r = httpx.request(
                    method,
                    hub.url + path,
                    content=body(),
                    headers={"content-type": "application/json"},
                    auth=auth,
                    timeout=30,
                )
                case = f"{method} {path}, {body_name}, from {caller}"
                assert r.status_code == (status or admin_status), (case, r.text)
                assert r.headers["content-type"] == PROBLEM, case
                if status == 401:
                    assert "basic" in r.headers["www-authenticate"].lower(), case


def declared_only(hub, path: str, length: int, auth: str | None) -> bytes:
    """The status line of a POST that declares ``length`` bytes and sends none of them."""
    headers = f"POST {path} HTTP/1.1\r\nHost: hub\r\nContent-Length: {length}\r\n"
    headers += "Content-Type: application/json\r\n" + (f"Authorization: Basic {auth}\r\n" if auth else "")
    with socket.create_connection(("127.0.0.1", hub.port), timeout=10) as s:
        s.sendall((headers + "\r\n").encode())
        return s.recv(4096).split(b"\r\n", 1)[0]


def test_a_declared_length_over_the_cap_is_refused_before_the_body_comes(hub):
    admin = httpx.BasicAuth(*ADMIN)._auth_header.removeprefix("Basic ")
    assert declared_only(hub, "/admin/users", 10**9, None) == b"HTTP/1.1 401 Unauthorized"
    assert declared_only(hub, "/admin/users", 10**9, admin) == b"HTTP/1.1 413 Request Entity Too Large"


def test_channel_traffic_keeps_the_gateways_own_cap(hub):
    with hub.client("p1", PASSWORD) as p1:
        r = p1.post("/echo", content=over_the_cap())
    assert r.status_code == 413 and "this channel's limit" in r.json()["detail"], r.text


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("get", "/admin/clients", {"401", "403", "429"}),
        ("post", "/admin/users", {"400", "401", "403", "409", "413", "422", "429"}),
        ("delete", "/admin/channels/{name}", {"401", "403", "404", "409", "422", "429"}),
        ("post", "/mediators/{urn}/heartbeat", {"400", "401", "403", "404", "409", "413", "422", "429"}),
    ],
)
def test_openapi_documents_the_problems_admin_routes_answer(sqlite_url, method, path, statuses):
    doc = create_app(hub_settings(sqlite_url)).openapi()
    responses = doc["paths"][path][method]["responses"]
    errors = {status: answer for status, answer in responses.items() if status >= "400"}
    assert set(errors) == statuses
    for answer in errors.values():
        assert answer["content"] == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert {"type", "title", "status", "detail"} <= set(doc["components"]["schemas"]["Problem"]["properties"])
