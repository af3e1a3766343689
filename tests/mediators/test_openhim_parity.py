"""What OpenHIM core accepts and the hub must too, over real HTTP: default-channel priority, lenient
mediator replies, urns holding "/", loose configDefs and configs, lax heartbeats, upgrades without
endpoints, and e-mails matched whatever their case."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub.transactions.models import Transaction
from mediators.openhim.api import fetch_config
from tests.conftest import ADMIN, PARTNER, PASSWORD, channel
from tests.mediators.conftest import URN, add_viewer, mediator_doc
from tests.mediators.test_audit_openhim_compat import replying_mediator  # noqa: F401  (fixture)
from tests.mediators.test_legacy_auth import token_headers

LAB = {"client_id": "lab-system", "name": "Lab system", "roles": ["lab"], "password_env": "LAB_PASSWORD"}
LAB_PASSWORD = "lab-password-1"


@pytest.fixture
def hub(make_hub: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A lab client, legacy token auth for the admin, and a lockout after two failures."""
    monkeypatch.setenv("LAB_PASSWORD", LAB_PASSWORD)
    return make_hub({"clients": [LAB]}, admin_legacy_token_auth=True, auth_max_failures=2)


def test_a_prioritised_default_channel_is_tried_before_unprioritised_ones(hub, upstream):
    port = int(upstream.rsplit(":", 1)[1])

    def lab_channel(name: str, path: str, **extra: Any) -> dict[str, Any]:
        route = {"name": name, "host": "127.0.0.1", "port": port, "path": path, "primary": True}
        return {"name": name, "urlPattern": "^/lab$", "allow": ["lab"], "routes": [route], **extra}

    doc = mediator_doc(
        defaultChannelConfig=[
            lab_channel("A any", "/unprioritised"),
            lab_channel("B first", "/first", priority=1),
        ]
    )
    with hub.admin() as admin:
        assert admin.post("/mediators", json=doc).status_code == 201
        assert admin.post(f"/mediators/{URN}/channels").status_code == 201
        refused = admin.post("/mediators", json=mediator_doc("2.0.0", defaultChannelConfig=[
            lab_channel("Zero", "/zero", priority=0)]))  # fmt: skip
    with hub.client("lab-system", LAB_PASSWORD) as lab:
        r = lab.get("/lab")
    assert r.status_code == 200 and r.json()["path"] == "/first", "OpenHIM tries priority 1 first"
    assert refused.status_code == 400 and "priority" in refused.text, "OpenHIM's schema has min 1"


@pytest.mark.usefixtures("partner_password")
def test_mediator_reply_with_nulls_and_numbers_reaches_the_client(make_hub, replying_mediator):  # noqa: F811
    replying_mediator.replies["lenient"] = {
        "x-mediator-urn": 42,
        "status": None,
        "response": {"status": 201, "headers": None, "body": "made", "timestamp": 1700000000123},
        "orchestrations": [
            {"name": "lookup", "group": None, "request": {"headers": None, "timestamp": 1700000000000},
             "response": {"status": 200, "headers": None}},
        ],
        "properties": None,
    }  # fmt: skip
    url = f"http://127.0.0.1:{replying_mediator.server_port}"
    hub = make_hub({"clients": [PARTNER], "channels": [channel("med", r"/med/.*", url)]})
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/med/lenient")
    with hub.runtime.db.session() as session:
        tx = session.scalars(
            select(Transaction).where(Transaction.id == int(r.headers["x-hub-transaction-id"]))
        ).one()
        lookup = next(o for o in tx.orchestrations if o["name"] == "lookup")
        got = (tx.status, tx.mediator_urn, lookup["request"].get("timestamp"))
    assert (r.status_code, r.text) == (201, "made"), "OpenHIM skips the nulls; not a 502"
    assert got == ("Successful", "42", "2023-11-14T22:13:20.000Z")


def test_a_urn_holding_a_slash_is_reachable_escaped(hub):
    urn = "urn:mediator:lab/north"
    escaped = "urn:mediator:lab%2Fnorth"
    with hub.admin() as c:
        registered = c.post("/mediators", json=mediator_doc(urn=urn))
        config = c.put(f"/mediators/{escaped}/config", json={"url": "http://north"})
        installed = c.post(f"/mediators/{escaped}/channels")
        got = c.get(f"/mediators/{escaped}")
        fetched = fetch_config(hub.url, ADMIN, urn)  # the library escapes the urn itself
        removed = c.delete(f"/mediators/{escaped}")
        gone = c.get(f"/mediators/{escaped}")
    assert [registered.status_code, config.status_code, installed.status_code] == [201, 200, 201]
    assert got.status_code == 200 and got.json()["urn"] == urn
    assert fetched == {"url": "http://north"}
    assert removed.status_code == 200 and urn in removed.text and gone.status_code == 404


@pytest.mark.parametrize(
    ("defs", "config", "status"),
    [
        ([{"test": "test"}], None, 201),  # openhim-mediator-utils' own test fixture
        ([{"param": "anything"}], {"anything": [1, {"a": None}]}, 201),
        ([{"param": "headers", "type": "map"}], {"headers": None}, 201),
        ([{"param": "db", "type": "struct", "template": [{"param": "port", "type": "number"}]}],
         {"db": {"port": "5432"}}, 201),
        ([{"param": "db", "type": "struct", "template": [{"param": "port", "type": "number"}]}],
         {"db": None}, 201),
        ([{"param": "db", "type": "struct", "template": [{"param": "port"}]}], None, 400),
        ([{"type": "option"}], None, 400),
    ],
    ids=["no-param-no-type", "no-type-any-value", "null-map", "struct-field-not-typed", "null-struct",
         "template-field-without-type", "option-without-values"],
)  # fmt: skip
def test_config_defs_and_configs_as_loose_as_openhims(hub, defs, config, status):
    with hub.admin() as c:
        r = c.post("/mediators", json=mediator_doc(configDefs=defs, config=config))
        put = c.put(f"/mediators/{URN}/config", json=config) if status == 201 and config else None
    assert r.status_code == status, r.text
    assert put is None or put.status_code == 200, put.text


def test_heartbeat_takes_a_numeric_string_uptime_and_only_true_asks_for_the_config(hub):
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc())
        c.post(f"/mediators/{URN}/heartbeat", json={"uptime": 1})  # the registered config is delivered
        beats = [c.post(f"/mediators/{URN}/heartbeat", json={"uptime": "5", "config": flag}) for flag in
                 (None, "yes", 1, True)]  # fmt: skip
        got = c.get(f"/mediators/{URN}").json()
    assert [b.status_code for b in beats] == [200] * 4
    assert [b.content for b in beats[:3]] == [b""] * 3, "OpenHIM answers the config for config === true only"
    assert beats[3].json() == mediator_doc()["config"]
    assert got["_uptime"] == 5


def test_an_upgrade_without_endpoints_keeps_the_stored_ones(hub):
    with hub.admin() as c:
        before = c.post("/mediators", json=mediator_doc()).json()
        upgrade = {k: v for k, v in mediator_doc("1.1.0").items() if k != "endpoints"}
        r = c.post("/mediators", json=upgrade)
        new = c.post("/mediators", json={**upgrade, "urn": "urn:mediator:new"})
        got = c.get(f"/mediators/{URN}").json()
    assert r.status_code == 201 and got["version"] == "1.1.0"
    assert got["endpoints"] == before["endpoints"]
    assert new.status_code == 400 and "endpoints" in new.json()["detail"], "a new mediator needs them"


def test_admin_e_mails_match_whatever_their_case(hub):
    shouted = ADMIN[0].upper()
    with httpx.Client(base_url=hub.url, auth=(shouted, ADMIN[1])) as c:
        basic = c.get("/mediators")
    salts = {httpx.get(f"{hub.url}/authenticate/{email}").json()["salt"] for email in (ADMIN[0], shouted)}
    fake = {
        httpx.get(f"{hub.url}/authenticate/{e}").json()["salt"] for e in ("nobody@x.test", "NOBODY@x.test")
    }
    legacy = httpx.get(f"{hub.url}/mediators", headers=token_headers(hub, shouted, ADMIN[1]))
    viewer, password = add_viewer(hub)
    with hub.admin() as c:
        twin = c.post("/admin/users", json={"email": viewer.upper(), "password": "another-password-1"})
    wrong = [httpx.get(f"{hub.url}/mediators", auth=(e, "wrong-password")).status_code
             for e in (viewer.upper(), viewer.title())]  # fmt: skip
    after = httpx.get(f"{hub.url}/mediators", auth=(viewer, password))
    assert basic.status_code == 200 and legacy.status_code == 200
    assert len(salts) == 1 and len(fake) == 1, "the same salt in every case, known or not"
    assert twin.status_code == 409, "two users may not differ only by case"
    assert wrong == [401, 401] and after.status_code == 429, "a case variant counts towards the lockout"
