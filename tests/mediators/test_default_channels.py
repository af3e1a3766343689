"""Installing a mediator's default channels, then real requests through them to the echo mediator."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.mediators.conftest import URN, mediator_doc

LAB = {"client_id": "lab-system", "name": "Lab system", "roles": ["echo"], "password_env": "LAB_PASSWORD"}
LAB_PASSWORD = "lab-password-1"


@pytest.fixture
def hub(make_hub: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A hub with a client allowed on the echo mediator's default channel."""
    monkeypatch.setenv("LAB_PASSWORD", LAB_PASSWORD)
    return make_hub({"clients": [LAB]})


def openhim_channel(name: str, **extra: Any) -> dict[str, Any]:
    route = {"name": f"{name} route", "host": "127.0.0.1", "port": 8600, "primary": True}
    return {"name": name, "urlPattern": f"^/{name.lower()}$", "allow": ["echo"], "routes": [route], **extra}


def test_default_channel_routes_to_the_mediator_and_logs_its_response(hub, echo):
    with hub.admin() as admin:
        installed = admin.post(f"/mediators/{echo.urn}/channels", json=[])
        with hub.client("lab-system", LAB_PASSWORD) as lab:
            r = lab.post("/echo/results?site=north", json={"result": 42})
        tx = admin.get(f"/admin/transactions/{r.headers['x-hub-transaction-id']}").json()
    assert installed.status_code == 201
    [channel] = installed.json()
    assert channel["name"] == "Echo" and channel["source"] == f"mediator:{echo.urn}"
    assert channel["url_pattern"] == "^/echo(/.*)?$" and channel["allowed_roles"] == ["echo"]
    assert channel["routes"][0]["url"].rstrip("/") == f"http://127.0.0.1:{echo.port}"
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json()["greeting"] == "hello" and r.json()["path"] == "/echo/results"
    assert r.json()["body"] == '{"result":42}' and r.json()["query"] == "site=north"
    assert tx["status"] == "Successful" and tx["mediator_urn"] == echo.urn
    assert [o["name"] for o in tx["orchestrations"]] == ["Echo mediator", "echo"]
    assert tx["orchestrations"][1]["request"]["path"] == "/echo/results"
    assert tx["orchestrations"][1]["response"]["status"] == 200
    assert tx["properties"] == {"greeting": "hello"}


def test_config_change_reaches_the_running_mediator_by_heartbeat(hub, echo):
    with hub.admin() as admin:
        admin.post(f"/mediators/{echo.urn}/channels")
        changed = admin.put(
            f"/mediators/{echo.urn}/config", json={"greeting": "bonjour", "status": "Completed with error(s)"}
        )
        with hub.client("lab-system", LAB_PASSWORD) as lab:
            deadline = time.monotonic() + 10
            while (r := lab.get("/echo")).json()["greeting"] != "bonjour" and time.monotonic() < deadline:
                time.sleep(0.1)
        tx = admin.get(f"/admin/transactions/{r.headers['x-hub-transaction-id']}").json()
    assert changed.status_code == 200
    assert r.json()["greeting"] == "bonjour", "the mediator never picked the new config up"
    assert tx["status"] == "Completed with error(s)", "the mediator's status becomes the transaction's"


def test_install_only_the_named_channels(hub):
    doc = mediator_doc(defaultChannelConfig=[openhim_channel("Alpha"), openhim_channel("Beta")])
    with hub.admin() as c:
        c.post("/mediators", json=doc)
        r = c.post(f"/mediators/{URN}/channels", json=["Beta"])
        names = [ch["name"] for ch in c.get("/admin/channels").json()]
    assert r.status_code == 201 and [ch["name"] for ch in r.json()] == ["Beta"]
    assert names == ["Beta"]


def test_installing_again_updates_in_place(hub):
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc(defaultChannelConfig=[openhim_channel("Alpha")]))
        first = c.post(f"/mediators/{URN}/channels").json()[0]
        upgraded = mediator_doc("1.1.0", defaultChannelConfig=[openhim_channel("Alpha", description="v2")])
        c.post("/mediators", json=upgraded)
        second = c.post(f"/mediators/{URN}/channels").json()[0]
    assert second["id"] == first["id"] and second["version"] == first["version"] + 1
    assert second["description"] == "v2"


@pytest.mark.parametrize(
    ("channels", "body", "detail"),
    [
        ([openhim_channel("Alpha")], ["Gamma"], "not in the defaultChannelConfig"),
        ([openhim_channel("Alpha"), openhim_channel("Tcp", type="tcp")], None, "the hub serves only http"),
        ([openhim_channel("Alpha", allow=[])], None, "needs allowed_roles"),
        (
            [openhim_channel("Alpha", routes=[{"name": "r", "host": "h", "port": 1, "password": "p"}])],
            None,
            "carries credentials",
        ),
    ],
    ids=["unknown-name", "tcp-channel", "private-without-allow", "route-password"],
)
def test_channels_the_hub_cannot_install_are_400_and_install_nothing(hub, channels, body, detail):
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc(defaultChannelConfig=channels))
        r = c.post(f"/mediators/{URN}/channels", json=body)
        existing = c.get("/admin/channels").json()
    assert r.status_code == 400 and detail in r.json()["detail"]
    assert existing == []


def test_install_for_unknown_mediator_is_404(hub):
    with hub.admin() as c:
        assert c.post("/mediators/urn:mediator:nobody/channels").status_code == 404
