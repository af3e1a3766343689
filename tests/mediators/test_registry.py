"""Registration, reading, removal and heartbeats over real HTTP, as OpenHIM core answers them."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
import pytest

from tests.conftest import ADMIN
from tests.mediators.conftest import URN, add_viewer, mediator_doc


def test_register_returns_201_and_reads_back_in_openhim_shape(hub):
    with hub.admin() as c:
        r = c.post("/mediators", json=mediator_doc())
        assert r.status_code == 201
        got = c.get(f"/mediators/{URN}").json()
        listed = c.get("/mediators").json()
    assert got["urn"] == URN and got["version"] == "1.0.0" and got["name"] == "Lab results mediator"
    assert got["endpoints"][0] == {
        "name": "Lab mediator", "host": "127.0.0.1", "port": 8600, "type": "http",
        "secured": False, "primary": False, "status": "enabled", "forwardAuthHeader": False,
    }  # fmt: skip
    assert got["configDefs"][7]["template"][2] == {"param": "password", "type": "password", "array": False}
    assert got["config"] == {"url": "http://lab.local", "retries": 3, "mode": "fast"}
    assert "_lastHeartbeat" not in got and "_uptime" not in got, "never beaten: left out, as OpenHIM does"
    assert [m["urn"] for m in listed] == [URN]


def test_higher_version_updates_definition_but_keeps_config_already_set(hub):
    defs = mediator_doc()["configDefs"]
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc("1.0.0"))
        admin_set = {"url": "http://admin.set", "retries": 5, "verbose": True}
        assert c.put(f"/mediators/{URN}/config", json=admin_set).status_code == 200
        c.post(f"/mediators/{URN}/heartbeat", json={"uptime": 1})  # the mediator has the admin's config now
        upgraded = mediator_doc(
            "1.2.0",
            name="Lab results mediator v1.2",
            # v1.2 turns verbose into a log level and adds batch.
            configDefs=[*(d for d in defs if d["param"] != "verbose"),
                        {"param": "verbose", "type": "option", "values": ["info", "debug"]},
                        {"param": "batch", "type": "number"}],
            config={"url": "http://lab.local", "retries": 3, "verbose": "info", "batch": 100},
        )  # fmt: skip
        assert c.post("/mediators", json=upgraded).status_code == 201
        got = c.get(f"/mediators/{URN}").json()
        beat = c.post(f"/mediators/{URN}/heartbeat", json={"uptime": 2})
    assert got["version"] == "1.2.0" and got["name"] == "Lab results mediator v1.2"
    assert got["config"] == {"url": "http://admin.set", "retries": 5, "verbose": "info", "batch": 100}
    assert beat.json() == got["config"], "the mediator registered its defaults; its next beat corrects them"


@pytest.mark.parametrize("version", ["1.0.0", "0.9.9", "1.0.0-rc.1"], ids=["same", "lower", "prerelease"])
def test_same_or_lower_version_changes_nothing(hub, version):
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc("1.0.0"))
        r = c.post("/mediators", json=mediator_doc(version, name="Impostor", config={"retries": 9}))
        got = c.get(f"/mediators/{URN}").json()
    assert r.status_code == 201, "OpenHIM core answers 201 and keeps what it has"
    assert got["version"] == "1.0.0" and got["name"] == "Lab results mediator"
    assert got["config"]["retries"] == 3


def test_replicas_registering_at_once_all_succeed(hub):
    def register(_: int) -> int:
        with hub.admin() as c:
            return c.post("/mediators", json=mediator_doc()).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(register, range(16)))
    with hub.admin() as c:
        listed = c.get("/mediators").json()
    assert statuses == [201] * 16
    assert [m["urn"] for m in listed] == [URN]


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"urn": None}, "urn"),
        ({"name": ""}, "name"),
        ({"version": None}, "version"),
        ({"version": "1.0"}, "SemVer"),
        ({"endpoints": []}, "endpoints"),
        ({"endpoints": None}, "endpoints"),
        ({"configDefs": [{"param": "m", "type": "option"}]}, "values"),
        ({"configDefs": [{"param": "s", "type": "struct"}]}, "template"),
        ({"configDefs": [{"param": "x", "type": "colour"}]}, "type"),
        ({"config": {"retries": "three"}}, "retries must be of type number"),
        ({"config": {"unknown": 1}}, "no config definition for param unknown"),
    ],
    ids=[
        "no-urn", "empty-name", "no-version", "not-semver", "no-endpoints", "null-endpoints",
        "option-without-values", "struct-without-template", "unknown-type", "config-wrong-type",
        "config-undefined-param",
    ],
)  # fmt: skip
def test_invalid_registration_is_400_problem(hub, change, detail):
    doc = {k: v for k, v in {**mediator_doc(), **change}.items() if v is not None}
    with hub.admin() as c:
        r = c.post("/mediators", json=doc)
        assert c.get("/mediators").json() == []
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert detail in r.json()["detail"]


def test_malformed_or_missing_body_is_400(hub):
    with hub.admin() as c:
        malformed = c.post("/mediators", content=b"{not json", headers={"content-type": "application/json"})
        missing = c.post("/mediators")
    assert malformed.status_code == 400 and missing.status_code == 400


def test_urns_with_colons_and_escapes_reach_the_right_mediator(hub):
    urn = "urn:uuid:4a6a1c2e-0b8e-4f57-9a8e-1c2d3e4f5a6b"
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc(urn=urn))
        plain = c.get(f"/mediators/{urn}")
        escaped = c.get(f"/mediators/{urn.replace(':', '%3A')}")
    assert plain.status_code == 200 and plain.json()["urn"] == urn
    assert escaped.status_code == 200 and escaped.json()["urn"] == urn


def test_delete_forgets_the_mediator_with_openhim_cores_answer(hub):
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc())
        removed = c.delete(f"/mediators/{URN}")
        assert c.get(f"/mediators/{URN}").status_code == 404
        again = c.delete(f"/mediators/{URN}")
    assert removed.status_code == 200 and removed.headers["content-type"].startswith("text/plain")
    assert removed.text == f"Mediator with urn {URN} has been successfully removed by {ADMIN[0]}"
    assert again.status_code == 404 and again.headers["content-type"] == "application/problem+json"


def test_admin_api_needs_an_admin(hub):
    viewer = add_viewer(hub)
    anonymous = httpx.post(f"{hub.url}/mediators", json=mediator_doc())
    with httpx.Client(base_url=hub.url, auth=viewer) as c:
        forbidden = c.post("/mediators", json=mediator_doc())
        forbidden_beat = c.post(f"/mediators/{URN}/heartbeat", json={"uptime": 1})
    with hub.admin() as c:
        nothing_registered = c.get("/mediators").json()
    assert anonymous.status_code == 401 and "WWW-Authenticate" in anonymous.headers
    assert forbidden.status_code == 403 and forbidden_beat.status_code == 403
    assert forbidden.headers["content-type"] == "application/problem+json"
    assert nothing_registered == []


# -- heartbeats --------------------------------------------------------------------------------------


def test_heartbeat_records_time_and_uptime_and_answers_empty_when_nothing_changed(hub):
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc())
        before = time.time()
        r = c.post(f"/mediators/{URN}/heartbeat", json={"uptime": 12.5})
        got = c.get(f"/mediators/{URN}").json()
    assert r.status_code == 200 and r.content == b""
    assert got["_uptime"] == 12.5
    assert datetime.fromisoformat(got["_lastHeartbeat"]).timestamp() >= before - 1


def test_heartbeat_answers_config_when_asked_or_changed_then_empty_again(hub):
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc())
        asked = c.post(f"/mediators/{URN}/heartbeat", json={"uptime": 1, "config": True})
        c.put(f"/mediators/{URN}/config", json={"url": "http://new", "token": "s3cret"})
        changed = c.post(f"/mediators/{URN}/heartbeat", json={"uptime": 2})
        after = c.post(f"/mediators/{URN}/heartbeat", json={"uptime": 3})
    assert asked.json() == {"url": "http://lab.local", "retries": 3, "mode": "fast"}
    assert changed.json() == {"url": "http://new", "token": "s3cret"}, "the mediator gets the real secret"
    assert after.status_code == 200 and after.content == b""


def test_heartbeat_for_unknown_mediator_is_404(hub):
    with hub.admin() as c:
        r = c.post("/mediators/urn:mediator:nobody/heartbeat", json={"uptime": 1})
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "body",
    [{}, {"uptime": None}, {"uptime": "ten"}, {"uptime": -1}, {"uptime": "-1"}, [], None],
    ids=["missing", "null", "not-a-number", "negative", "negative-string", "list", "no-body"],
)
def test_heartbeat_without_a_valid_uptime_is_400(hub, body):
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc())
        r = c.post(f"/mediators/{URN}/heartbeat", json=body)  # json=None sends no body at all
        got = c.get(f"/mediators/{URN}").json()
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert "_lastHeartbeat" not in got, "a rejected beat records nothing"


def test_heartbeat_age_gauge_is_exported_per_urn(hub):
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc())
        c.post(f"/mediators/{URN}/heartbeat", json={"uptime": 1})
        metrics = c.get("/metrics").text
    line = next(x for x in metrics.splitlines() if x.startswith("hub_mediator_heartbeat_age_seconds{"))
    assert f'urn="{URN}"' in line
    assert 0 <= float(line.rsplit(" ", 1)[1]) < 60


def test_a_mediator_that_never_beat_ages_from_its_registration(hub):
    silent = "urn:mediator:never-beats"
    with hub.admin() as c:
        c.post("/mediators", json={**mediator_doc(), "urn": silent})
        metrics = c.get("/metrics").text
    line = next(
        x for x in metrics.splitlines() if x.startswith(f'hub_mediator_heartbeat_age_seconds{{urn="{silent}"')
    )
    assert 0 <= float(line.rsplit(" ", 1)[1]) < 60, "an alert on the age must see a mediator that never beat"
