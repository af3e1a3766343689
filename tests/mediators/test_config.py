"""``PUT /mediators/{urn}/config``: checked against configDefs, passwords masked on the way out."""

from __future__ import annotations

import pytest

from hub.mediators.schemas import MASK
from tests.mediators.conftest import URN, mediator_doc

FULL = {
    "url": "http://lab.local",
    "retries": 2.5,
    "verbose": True,
    "mode": "safe",
    "token": "t0ken",
    "keys": ["k1", "k2"],
    "headers": {"X-Site": "north"},
    "db": {"host": "db.local", "port": 5432, "password": "db-pass"},
}


@pytest.mark.parametrize(
    ("config", "detail"),
    [
        ({"nope": 1}, "no config definition for param nope"),
        ({"url": 42}, "config param url must be of type string"),
        ({"retries": "3"}, "config param retries must be of type number"),
        ({"retries": True}, "config param retries must be of type number"),
        ({"verbose": "yes"}, "config param verbose must be of type bool"),
        ({"mode": "turbo"}, "config param mode must be one of ['fast', 'safe']"),
        ({"token": 123}, "config param token must be of type password"),
        ({"keys": "k1"}, "config param keys must be an array of password"),
        ({"keys": ["k1", 2]}, "config param keys[1] must be of type password"),
        ({"headers": {"X-Site": 1}}, "config param headers must be of type map"),
        ({"db": "db.local"}, "config param db must be an object"),
        ({"db": {"user": "x"}}, "field user is not in the template of config param db"),
    ],
    ids=[
        "undefined-param", "string", "number-string", "number-bool", "bool", "option", "password",
        "array-not-list", "array-item", "map-value", "struct-not-object", "struct-unknown-field",
    ],
)  # fmt: skip
def test_config_that_does_not_fit_the_defs_is_400_problem(hub, config, detail):
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc())
        r = c.put(f"/mediators/{URN}/config", json=config)
        kept = c.get(f"/mediators/{URN}").json()["config"]
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == detail
    assert kept == mediator_doc()["config"], "a rejected config changes nothing"


@pytest.mark.parametrize("body", [["url"], "url", None], ids=["list", "string", "no-body"])
def test_config_must_be_an_object(hub, body):
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc())
        r = c.put(f"/mediators/{URN}/config", json=body)
    assert r.status_code == 400


def test_config_for_unknown_mediator_is_404(hub):
    with hub.admin() as c:
        r = c.put("/mediators/urn:mediator:nobody/config", json={})
    assert r.status_code == 404


def test_passwords_are_masked_when_read_and_kept_when_the_mask_comes_back(hub):
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc())
        put = c.put(f"/mediators/{URN}/config", json=FULL)
        shown = c.get(f"/mediators/{URN}").json()["config"]
        listed = c.get("/mediators").json()[0]["config"]
        # The console edits what it was shown: masks come back, one key is replaced, one added.
        edited = {**shown, "url": "http://edited", "keys": [MASK, "k2-new", "k3"]}
        assert c.put(f"/mediators/{URN}/config", json=edited).status_code == 200
        stored = c.post(f"/mediators/{URN}/heartbeat", json={"uptime": 1, "config": True}).json()
    masked = {**FULL, "token": MASK, "keys": [MASK, MASK], "db": {**FULL["db"], "password": MASK}}
    assert put.status_code == 200 and put.json()["config"] == masked
    assert shown == masked and listed == masked
    assert stored == {**FULL, "url": "http://edited", "keys": ["k1", "k2-new", "k3"]}


UPSTREAMS = {
    "param": "upstreams",
    "type": "struct",
    "array": True,
    "template": [{"param": "url", "type": "string"}, {"param": "password", "type": "password"}],
}
HOST_A = {"url": "https://dhis2-a", "password": "pw-for-A"}
HOST_B = {"url": "https://dhis2-b", "password": "pw-for-B"}


def upstreams_mediator(hub, c, upstreams: list[dict[str, str]]) -> list[dict[str, str]]:
    """Register a mediator with an array of upstream structs; the masked list the console shows."""
    doc = mediator_doc(configDefs=[UPSTREAMS], config={"upstreams": upstreams})
    assert c.post("/mediators", json=doc).status_code == 201
    return c.get(f"/mediators/{URN}").json()["config"]["upstreams"]


def stored_upstreams(c) -> list[dict[str, str]]:
    return c.post(f"/mediators/{URN}/heartbeat", json={"uptime": 1, "config": True}).json()["upstreams"]


@pytest.mark.parametrize(
    ("edit", "kept"),
    [
        (lambda shown: shown[1:], [HOST_B]),  # host A removed
        (lambda shown: shown[::-1], [HOST_B, HOST_A]),  # reordered
        (lambda shown: [*shown, {"url": "https://dhis2-c", "password": "pw-C"}], None),  # added
    ],
    ids=["removed", "reordered", "added"],
)
def test_a_masked_struct_password_stays_with_its_own_entry(hub, edit, kept):
    with hub.admin() as c:
        shown = upstreams_mediator(hub, c, [HOST_A, HOST_B])
        put = c.put(f"/mediators/{URN}/config", json={"upstreams": edit(shown)})
        stored = stored_upstreams(c)
    assert shown == [{**HOST_A, "password": MASK}, {**HOST_B, "password": MASK}]
    assert put.status_code == 200
    assert stored == (kept or [HOST_A, HOST_B, {"url": "https://dhis2-c", "password": "pw-C"}])


def test_a_struct_entry_pointed_at_a_new_host_does_not_take_the_old_hosts_password(hub):
    with hub.admin() as c:
        shown = upstreams_mediator(hub, c, [HOST_A])
        moved = c.put(f"/mediators/{URN}/config", json={"upstreams": [{**shown[0], "url": "https://evil"}]})
        stored = stored_upstreams(c)
    assert moved.status_code == 400
    assert "upstreams[0].password" in moved.json()["detail"]
    assert stored == [HOST_A]


def test_a_password_array_that_lost_an_entry_needs_its_passwords_again(hub):
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc())
        c.put(f"/mediators/{URN}/config", json=FULL)
        shorter = c.put(f"/mediators/{URN}/config", json={**FULL, "token": MASK, "keys": [MASK]})
        resent = c.put(f"/mediators/{URN}/config", json={**FULL, "token": MASK, "keys": ["k2"]})
        stored = c.post(f"/mediators/{URN}/heartbeat", json={"uptime": 1, "config": True}).json()
    # which of k1 and k2 left with the removed entry cannot be told: neither is guessed
    assert shorter.status_code == 400 and "keys[0]" in shorter.json()["detail"]
    assert resent.status_code == 200 and stored["keys"] == ["k2"] and stored["token"] == FULL["token"]
