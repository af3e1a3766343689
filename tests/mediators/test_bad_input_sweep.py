"""Found by a sweep of the mediator API with malformed input: a clear 400 problem+json, never a 500,
and nothing of it stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import as_json
from tests.mediators.conftest import URN, mediator_doc

LONE = "\ud800"


def _with_endpoint_path(path: str) -> dict[str, Any]:
    doc = mediator_doc()
    doc["endpoints"][0]["path"] = path
    return doc


@pytest.mark.parametrize(
    "doc",
    [mediator_doc(description=LONE), _with_endpoint_path(f"/{LONE}"), mediator_doc(config={"url": LONE})],
    ids=["description", "endpoint-path", "config"],
)
def test_a_registration_with_a_lone_surrogate_is_400_and_not_stored(hub, doc):
    with hub.admin() as admin:
        r = admin.post("/mediators", **as_json(doc))
        listed = admin.get("/mediators")
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json", r.text
    assert "lone surrogate" in r.json()["detail"]
    assert listed.status_code == 200 and listed.json() == [], listed.text


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [("PUT", "config", {"url": LONE}), ("POST", "channels", [LONE]), ("POST", "heartbeat", {"uptime": LONE})],
    ids=["config", "channels", "heartbeat"],
)
def test_a_lone_surrogate_sent_to_a_registered_mediator_is_400(hub, method, suffix, body):
    with hub.admin() as admin:
        admin.post("/mediators", json=mediator_doc()).raise_for_status()
        r = admin.request(method, f"/mediators/{URN}/{suffix}", **as_json(body))
        kept = admin.get(f"/mediators/{URN}")
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json", r.text
    assert "lone surrogate" in r.json()["detail"]
    assert kept.status_code == 200 and kept.json()["config"]["url"] == "http://lab.local", kept.text
