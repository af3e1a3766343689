"""Registrations OpenHIM core accepts, over real HTTP: upgrades that send only some fields, loose
configDefs and channel documents; and clear 400s for bodies the hub cannot take."""

from __future__ import annotations

import json

from tests.mediators.conftest import URN, mediator_doc


def _channel(name: str, **extra: object) -> dict[str, object]:
    route = {"name": f"{name} route", "host": "127.0.0.1", "port": 8600, "primary": True}
    return {"name": name, "urlPattern": f"^/{name.lower()}$", "allow": ["lab"], "routes": [route], **extra}


def test_an_upgrade_keeps_the_description_defs_channels_and_config_it_leaves_out(hub):
    doc = mediator_doc(defaultChannelConfig=[_channel("Lab")])
    with hub.admin() as c:
        c.post("/mediators", json=doc)
        c.put(f"/mediators/{URN}/config", json={"url": "http://admin.set", "token": "s3cret"})
        upgraded = c.post("/mediators", json={"urn": URN, "version": "1.1.0", "name": "Lab results v2"})
        beat = c.post(f"/mediators/{URN}/heartbeat", json={"uptime": 1, "config": True})
        installed = c.post(f"/mediators/{URN}/channels")
    assert upgraded.status_code == 201
    got = upgraded.json()
    assert (got["version"], got["name"], got["description"]) == (
        "1.1.0",
        "Lab results v2",
        doc["description"],
    )
    assert [d["param"] for d in got["configDefs"]] == [d["param"] for d in doc["configDefs"]]
    assert [e["name"] for e in got["endpoints"]] == ["Lab mediator"]
    assert [ch["name"] for ch in got["defaultChannelConfig"]] == ["Lab"]
    assert got["config"] == {"url": "http://admin.set", "token": "**********"}
    assert beat.json() == {"url": "http://admin.set", "token": "s3cret"}, "the admin's config was lost"
    assert installed.status_code == 201 and [ch["name"] for ch in installed.json()] == ["Lab"]


def test_an_upgrade_replaces_what_it_sends(hub):
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc())
        upgraded = c.post(
            "/mediators",
            json=mediator_doc(
                "2.0.0",
                description="",
                configDefs=[{"param": "url", "type": "string"}],
                config={"url": "http://new"},
            ),
        )
    assert upgraded.status_code == 201
    got = upgraded.json()
    assert got["description"] == "" and got["configDefs"] == [
        {"param": "url", "type": "string", "array": False}
    ]
    assert got["config"] == {"url": "http://lab.local"}


def test_a_body_sent_without_a_json_content_type_is_a_400_that_says_so(hub):
    form = {"content-type": "application/x-www-form-urlencoded"}  # what curl -d sends
    with hub.admin() as c:
        registered = c.post("/mediators", content=json.dumps(mediator_doc()), headers=form)
        c.post("/mediators", json=mediator_doc())
        beat = c.post(f"/mediators/{URN}/heartbeat", content='{"uptime": 1}', headers=form)
    for answer in (registered, beat):
        assert answer.status_code == 400
        assert answer.json()["detail"] == "body: the body must be a JSON object sent as application/json"


def test_a_version_longer_than_the_hub_stores_is_a_400(hub):
    version = "1.0.0-" + "a" * 59  # 65 characters, valid SemVer
    with hub.admin() as c:
        refused = c.post("/mediators", json=mediator_doc(version))
        fits = c.post("/mediators", json=mediator_doc(version[:-1]))
    assert refused.status_code == 400
    assert refused.json()["detail"] == "version: String should have at most 64 characters"
    assert fits.status_code == 201 and fits.json()["version"] == version[:-1]


def test_loose_documents_openhim_accepts_register(hub):
    defs = [
        {"param": "level", "type": "option", "values": [1, 2.5]},
        {"param": "name", "type": "string", "template": {}},
        {"param": "tags", "type": "string", "array": True, "template": []},
        {"param": "", "type": "string", "displayName": "a heading"},
    ]
    endpoints = [
        {"name": "Lab", "host": "127.0.0.1", "port": 8600},
        {"name": "Events", "host": "kafka", "port": 9092, "type": "kafka"},
    ]
    channels = [_channel("Retired", status="deleted"), _channel("Stream", routes=[endpoints[1]])]
    doc = mediator_doc(" 1.2.0 ", configDefs=defs, config={"level": "1"}, endpoints=endpoints)
    doc["defaultChannelConfig"] = channels
    with hub.admin() as c:
        registered = c.post("/mediators", json=doc)
        config = c.put(f"/mediators/{URN}/config", json={"level": "2.5", "name": "x", "tags": ["a"]})
        retired = c.post(f"/mediators/{URN}/channels", json=["Retired"])
        stream = c.post(f"/mediators/{URN}/channels", json=["Stream"])
    assert registered.status_code == 201, registered.text
    got = registered.json()
    assert got["version"] == "1.2.0"
    assert [d.get("values") for d in got["configDefs"]] == [["1", "2.5"], None, None, None]
    assert not [d for d in got["configDefs"] if "template" in d]
    assert got["configDefs"][3] == {"type": "string", "displayName": "a heading", "array": False}
    assert got["endpoints"][1]["type"] == "kafka"
    assert config.status_code == 200, config.text
    assert retired.status_code == 201 and retired.json()[0]["enabled"] is False
    assert stream.status_code == 400
    assert stream.json()["detail"] == "route 'Events' is of type kafka; the hub routes only http"
