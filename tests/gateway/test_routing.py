"""Requests through channels over real HTTP: routing, statuses, errors, body policy."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from hub.gateway.router import first_segments
from hub.transactions.models import Transaction
from tests.conftest import PARTNER, PASSWORD, channel

pytestmark = pytest.mark.usefixtures("partner_password")


def config(upstream: str, *channels: dict) -> dict:
    return {"clients": [PARTNER], "channels": list(channels)}


def transaction(hub, tx_id: int) -> Transaction:
    with hub.runtime.db.session() as session:
        return session.scalars(select(Transaction).where(Transaction.id == tx_id)).one()


def test_request_reaches_upstream_and_is_logged(make_hub, upstream, upstream_log):
    hub = make_hub(
        config(
            upstream,
            channel(
                "echo",
                r"/echo/.*",
                upstream,
                routes=[
                    {
                        "name": "upstream",
                        "url": upstream,
                        "primary": True,
                        "path_transform": "s/^\\/echo/\\/api/",
                    }
                ],
            ),
        )
    )
    with hub.client("partner-1", PASSWORD) as c:
        r = c.post("/echo/things?x=1", json={"a": 1}, headers={"X-Request-ID": "req-abc"})
    assert r.status_code == 200
    assert r.json()["path"] == "/api/things" and r.json()["query"] == "x=1"
    seen = upstream_log()[0]
    assert "authorization" not in seen["headers"], "client credentials must not leak upstream"
    tx_id = int(r.headers["x-hub-transaction-id"])
    assert seen["headers"]["x-openhim-transactionid"] == str(tx_id)
    assert r.headers["x-request-id"] == "req-abc"
    tx = transaction(hub, tx_id)
    assert tx.status == "Successful" and tx.client_id == "partner-1" and tx.channel_name == "echo"
    assert tx.request_body == '{"a":1}' and tx.request_stored
    assert tx.request_headers["authorization"] == "***"
    assert tx.orchestrations[0]["name"] == "upstream" and tx.orchestrations[0]["response"]["status"] == 200
    assert tx.duration_ms is not None and tx.finished_at is not None


def test_an_upstream_cookie_is_passed_back_but_never_replayed_to_the_next_request(
    make_hub, upstream, upstream_log
):
    by_name = upstream.replace("127.0.0.1", "localhost")  # cookie jars ignore cookies from bare IPs
    hub = make_hub(config(upstream, channel("all", r"/.*", by_name)))
    with hub.client("partner-1", PASSWORD) as first:
        r = first.get("/cookie")
    assert r.headers["set-cookie"].startswith("session=s3cr3t")
    with hub.client("partner-1", PASSWORD) as second:
        assert second.get("/echo").status_code == 200
    assert [seen["path"] for seen in upstream_log()] == ["/cookie", "/echo"]
    assert "cookie" not in upstream_log()[1]["headers"], "one caller's upstream session leaked to another"


@pytest.mark.parametrize(
    ("path", "http", "status"),
    [
        ("/status/404", 404, "Completed"),
        ("/status/500", 500, "Failed"),
        ("/status/201", 201, "Successful"),
    ],
    ids=["4xx-completed", "5xx-failed", "2xx-successful"],
)
def test_primary_status_maps_to_openhim_status(make_hub, upstream, path, http, status):
    hub = make_hub(config(upstream, channel("st", r"/status/\d+", upstream)))
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get(path)
    assert r.status_code == http
    assert transaction(hub, int(r.headers["x-hub-transaction-id"])).status == status


def test_unreachable_upstream_is_502_and_failed(make_hub, upstream):
    hub = make_hub(config(upstream, channel("down", r"/down", "http://127.0.0.1:9")))
    with hub.client("partner-1", PASSWORD) as c:
        r = c.post("/down", json={"keep": "me"})
    assert r.status_code == 502 and r.headers["content-type"] == "application/problem+json"
    tx = transaction(hub, r.json()["transactionId"])
    assert tx.status == "Failed" and tx.request_body == '{"keep":"me"}', "accepted data is kept for rerun"
    assert "unreachable" in tx.orchestrations[0]["error"]["message"]


def test_upstream_timeout_is_504(make_hub, upstream):
    hub = make_hub(config(upstream, channel("slow", r"/sleep/.*", upstream, timeout_s=0.3)))
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/sleep/2")
    assert r.status_code == 504 and r.json()["title"] == "Upstream timeout"


def test_mediator_response_sets_status_and_orchestrations(make_hub, upstream):
    hub = make_hub(config(upstream, channel("med", r"/openhim/.*", upstream)))
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/openhim/Completed%20with%20error(s)")
    assert r.status_code == 200 and r.json() == {"mediated": True}
    tx = transaction(hub, int(r.headers["x-hub-transaction-id"]))
    assert tx.status == "Completed with error(s)" and tx.mediator_urn == "urn:mediator:test-upstream"
    assert [o["name"] for o in tx.orchestrations] == ["med-primary", "lookup"]
    assert tx.properties == {"patients": 1}


@pytest.mark.parametrize(
    ("kwargs", "status", "title"),
    [
        ({}, 401, "Authentication required"),
        ({"auth": ("partner-1", "wrong-password")}, 401, "Authentication required"),
        ({"auth": ("nobody", "whatever-pass")}, 401, "Authentication required"),
        ({"headers": {"Authorization": "Basic !!!notbase64"}}, 401, "Authentication required"),
        ({"headers": {"Authorization": b"Basic dXNlcjpw\xe9"}}, 401, "Authentication required"),
        ({"headers": {"Authorization": "Bearer hub_not-a-token"}}, 401, "Authentication required"),
    ],
    ids=["no-auth", "bad-password", "unknown-client", "malformed-basic", "non-ascii-basic", "unknown-token"],
)
def test_bad_auth_is_401_problem(make_hub, upstream, kwargs, status, title):
    hub = make_hub(config(upstream, channel("echo", r"/echo", upstream)))
    for path in ("/echo", "/admin/channels"):
        r = httpx.get(hub.url + path, **kwargs)
        assert r.status_code == status
        assert r.headers["content-type"] == "application/problem+json" and r.json()["title"] == title
        assert "Basic" in r.headers["www-authenticate"]


def test_role_not_allowed_is_403(make_hub, upstream):
    hub = make_hub(config(upstream, channel("hr", r"/hr", upstream, allowed_roles=["hr"])))
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/hr")
    assert r.status_code == 403 and "none of the roles" in r.json()["detail"]


def test_two_channels_serve_one_path_each_its_own_content_type(make_hub, upstream, upstream_log):
    """As OpenHIM matches: path, method and content type; the first channel that takes all three."""
    json_route = [{"name": "json", "url": upstream, "path": "/as-json", "primary": True}]
    xml_route = [{"name": "xml", "url": upstream, "path": "/as-xml", "primary": True}]
    hub = make_hub(
        config(
            upstream,
            channel(
                "orders-json",
                r"/orders",
                upstream,
                priority=10,
                content_types=["application/json"],
                routes=json_route,
            ),
            channel(
                "orders-xml",
                r"/orders",
                upstream,
                priority=5,
                content_types=["application/xml"],
                routes=xml_route,
            ),
        )
    )
    with hub.client("partner-1", PASSWORD) as c:
        as_json = c.post("/orders", content=b"{}", headers={"content-type": "application/json"})
        as_xml = c.post(
            "/orders", content=b"<o/>", headers={"content-type": "application/xml; charset=utf-8"}
        )
        as_text = c.post("/orders", content=b"o", headers={"content-type": "text/plain"})
    assert (as_json.status_code, as_xml.status_code, as_text.status_code) == (200, 200, 415)
    # OpenHIM's name for it too, which clients built for OpenHIM read
    assert as_json.headers["x-openhim-transactionid"] == as_json.headers["x-hub-transaction-id"]
    assert [r["path"] for r in upstream_log()] == ["/as-json", "/as-xml"]
    assert as_text.headers["content-type"] == "application/problem+json"
    assert "application/json" in as_text.json()["detail"] and "orders-json" not in as_text.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/nowhere", {}, 404),
        ("DELETE", "/echo", {}, 405),
        ("POST", "/json-only", {"content-type": "text/plain"}, 415),
    ],
    ids=["unknown-channel", "method-not-allowed", "content-type"],
)
def test_unroutable_requests_get_problems(make_hub, upstream, method, path, headers, status):
    hub = make_hub(
        config(
            upstream,
            channel("echo", r"/echo", upstream, methods=["GET", "POST"]),
            channel("json", r"/json-only", upstream, content_types=["application/json"]),
        )
    )
    with hub.client("partner-1", PASSWORD) as c:
        r = c.request(method, path, headers=headers, content=b"x")
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json"
    if status == 405:
        assert r.headers["allow"] == "GET, POST"


def test_oversize_body_is_413_declared_or_streamed(make_hub, upstream, upstream_log):
    hub = make_hub(
        config(upstream, channel("small", r"/small", upstream, body_policy={"max_request_bytes": 1000}))
    )
    with hub.client("partner-1", PASSWORD) as c:
        declared = c.post("/small", content=b"x" * 1001)
        streamed = c.post("/small", content=iter([b"x" * 600, b"x" * 600]))
        fits = c.post("/small", content=b"x" * 1000)
    assert declared.status_code == 413 and streamed.status_code == 413
    assert fits.status_code == 200
    assert len(upstream_log()) == 1


def test_body_policy_redacts_and_caps(make_hub, upstream):
    policy = {"redact_fields": ["nationalId"], "redact_headers": ["x-patient"], "max_stored_bytes": 30}
    hub = make_hub(config(upstream, channel("pii", r"/pii", upstream, body_policy=policy)))
    with hub.client("partner-1", PASSWORD) as c:
        r = c.post("/pii", json={"nationalId": "1234567890", "name": "A"}, headers={"X-Patient": "p-1"})
    tx = transaction(hub, int(r.headers["x-hub-transaction-id"]))
    assert "1234567890" not in (tx.request_body or "") and '"nationalId":"***"' in tx.request_body
    assert tx.request_headers["x-patient"] == "***"
    assert not tx.request_stored, "a redacted body cannot be rerun"
    assert len(tx.response_body or "") <= 30


def test_public_channel_needs_no_auth(make_hub, upstream):
    hub = make_hub(config(upstream, channel("pub", r"/public", upstream, public=True, allowed_roles=[])))
    r = httpx.get(hub.url + "/public")
    assert r.status_code == 200
    assert transaction(hub, int(r.headers["x-hub-transaction-id"])).client_id is None


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (
            ["/admin/clients", "/api{version:v}/dataValueSets", "/openapi.json", "/health"],
            frozenset({"admin", "api", "openapi", "health"}),
        ),
        (["/admin/x", "/{anything}"], None),
    ],
    ids=["literal-prefixes", "parameter-first"],
)
def test_reserved_prefixes_for_the_gateway_fast_path(paths, expected):
    assert first_segments(paths) == expected


def test_channel_under_a_reserved_prefix_still_routes(make_hub, upstream):
    hub = make_hub(config(upstream, channel("adminish", r"/admin/legacy-feed", upstream)))
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/admin/legacy-feed")
    assert r.status_code == 200 and r.json()["path"] == "/admin/legacy-feed"
