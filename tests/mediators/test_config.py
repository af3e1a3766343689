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
