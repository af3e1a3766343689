"""Who a channel lets in (roles and client ids, as OpenHIM's ``allow``), and how the requests it
refuses before any transaction is opened are counted."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import PARTNER, PASSWORD, channel
from tests.mediators.conftest import URN, mediator_doc

OTHER = {"client_id": "partner-2", "name": "Partner two", "roles": ["partner"], "password_env": "P2_PASSWORD"}
OTHER_PASSWORD = "partner-password-2"


@pytest.fixture
def clients(partner_password: None, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    monkeypatch.setenv("P2_PASSWORD", OTHER_PASSWORD)
    return [PARTNER, OTHER]


def test_a_channel_allows_a_client_by_its_id(make_hub, upstream, clients):
    hub = make_hub(
        {"clients": clients, "channels": [channel("own", r"/own", upstream, allowed_roles=["partner-1"])]}
    )
    with hub.client("partner-1", PASSWORD) as c:
        allowed = c.get("/own")
    with hub.client("partner-2", OTHER_PASSWORD) as c:
        refused = c.get("/own")
    assert allowed.status_code == 200
    assert refused.status_code == 403 and "partner-2" in refused.json()["detail"]


def test_a_mediator_default_channel_allows_the_client_ids_in_its_allow_list(make_hub, upstream, clients):
    openhim_channel = {
        "name": "Lab feed",
        "urlPattern": "^/lab-feed$",
        "allow": ["partner-2", "lab"],  # a client id and a role nobody has
        "routes": [
            {"name": "lab", "host": "127.0.0.1", "port": int(upstream.rsplit(":", 1)[1]), "primary": True}
        ],
    }
    hub = make_hub({"clients": clients})
    with hub.admin() as admin:
        assert (
            admin.post("/mediators", json=mediator_doc(defaultChannelConfig=[openhim_channel])).status_code
            == 201
        )
        assert admin.post(f"/mediators/{URN}/channels", json=[]).status_code == 201
    with hub.client("partner-2", OTHER_PASSWORD) as c:
        assert c.get("/lab-feed").status_code == 200
    with hub.client("partner-1", PASSWORD) as c:
        assert c.get("/lab-feed").status_code == 403


def requests_total(hub: Any) -> dict[tuple[str, str], float]:
    families = text_string_to_metric_families(httpx.get(hub.url + "/metrics").text)
    return {
        (s.labels["channel"], s.labels["status"]): s.value
        for f in families
        if f.name == "hub_requests"
        for s in f.samples
        if s.name == "hub_requests_total"
    }


def test_requests_refused_before_the_pipeline_are_counted_as_rejected(make_hub, upstream, partner_password):
    channels = [
        channel("guarded", r"/guarded", upstream, allowed_roles=["hr"]),
        channel("narrow", r"/narrow", upstream, methods=["GET", "POST"], content_types=["application/json"]),
        channel("small", r"/small", upstream, body_policy={"max_request_bytes": 10}),
    ]
    hub = make_hub({"clients": [PARTNER], "channels": channels})
    before = requests_total(hub)
    refused = [httpx.get(hub.url + "/guarded").status_code]  # no credentials
    with hub.client("partner-1", PASSWORD) as c:
        refused += [
            c.get("/guarded").status_code,
            c.get("/nowhere").status_code,
            c.delete("/narrow").status_code,
            c.post("/narrow", content=b"x", headers={"content-type": "text/plain"}).status_code,
            c.post("/small", content=b"x" * 11).status_code,
        ]
        passed = c.post("/small", content=b"x" * 10).status_code
    assert refused == [401, 403, 404, 405, 415, 413] and passed == 200
    after = requests_total(hub)
    grew = {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)}
    assert grew == {
        ("guarded", "Rejected"): 2,
        ("", "Rejected"): 3,  # no channel took the path, the method, the content type
        ("small", "Rejected"): 1,
        ("small", "Successful"): 1,
    }
