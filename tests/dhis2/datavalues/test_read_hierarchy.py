"""Reading values back stays inside the client's org unit hierarchy, as DHIS2's data view hierarchy:
GET /api/dataValueSets and /api/dataValues over real HTTP, with a district client and an unrestricted one.

Sierra Leone ImspTQPwCqd > Bo O6uvpzGd5pu > Badjia YuQRtpLP10I > Njandama g8upMTyEZGZ.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from tests.dhis2.datavalues.conftest import CLIENT, hub_config

COUNTRY, DISTRICT, CHIEFDOM, FACILITY = "ImspTQPwCqd", "O6uvpzGd5pu", "YuQRtpLP10I", "g8upMTyEZGZ"
VALUE = {"dataElement": "BjDrgVrkBI3", "period": "201911", "categoryOptionCombo": "oPcWGgS2Liz"}
QUERY = {"dataSet": "VEM58nY22sO", "period": "201911"}
CHIEFDOM_CLIENT = ("chiefdom-reader", "chiefdom-password-1")
OPEN_CLIENT = ("national-reader", "national-password-1")


def _client(client_id: str, env: str, org_units: list[str]) -> dict[str, Any]:
    return {"client_id": client_id, "name": client_id, "roles": ["dhis2"], "password_env": env,
            "org_units": org_units}  # fmt: skip


@pytest.fixture
def hub(dhis2_hub_config: dict[str, Any], make_hub: Any) -> Any:
    """A hub with a value at each level of the Bo branch, posted by the partner (roots: the country)."""
    live = make_hub(dhis2_hub_config)
    values = [{**VALUE, "orgUnit": unit, "value": str(n)} for n, unit in enumerate(
        (COUNTRY, DISTRICT, CHIEFDOM, FACILITY), start=1)]  # fmt: skip
    with live.client(*CLIENT) as http:
        posted = http.post("/api/dataValueSets", content=orjson.dumps({"dataValues": values}),
                           headers={"Content-Type": "application/json"})  # fmt: skip
    assert posted.json()["response"]["importCount"]["imported"] == 4, posted.text
    return live


@pytest.fixture
def dhis2_hub_config(loaded: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("HUB_TEST_DHIS2_CLIENT_PW", CLIENT[1])
    monkeypatch.setenv("HUB_TEST_CHIEFDOM_PW", CHIEFDOM_CLIENT[1])
    monkeypatch.setenv("HUB_TEST_OPEN_PW", OPEN_CLIENT[1])
    config = hub_config()
    config["clients"] += [
        _client(CHIEFDOM_CLIENT[0], "HUB_TEST_CHIEFDOM_PW", [CHIEFDOM]),
        _client(OPEN_CLIENT[0], "HUB_TEST_OPEN_PW", []),
    ]
    return config


def _units(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(v["orgUnit"] for v in response.json()["dataValues"])


def test_children_stay_inside_the_clients_roots(hub: Any) -> None:
    with hub.client(*CHIEFDOM_CLIENT) as http:
        below = http.get("/api/dataValueSets.json", params={**QUERY, "orgUnit": CHIEFDOM, "children": "true"})
        facility = http.get("/api/dataValueSets.json", params={**QUERY, "orgUnit": FACILITY})
    assert _units(below) == sorted([CHIEFDOM, FACILITY])
    assert _units(facility) == [FACILITY]


@pytest.mark.parametrize("org_units", [DISTRICT, f"{CHIEFDOM},{COUNTRY}"], ids=["parent", "one-of-two"])
def test_an_org_unit_outside_is_a_409_e2012(hub: Any, org_units: str) -> None:
    with hub.client(*CHIEFDOM_CLIENT) as http:
        response = http.get(
            "/api/dataValueSets.csv", params={**QUERY, "orgUnit": org_units, "children": "true"}
        )
    assert response.status_code == 409
    body = response.json()
    outside = org_units.split(",")[-1]
    assert (body["httpStatus"], body["status"]) == ("Conflict", "ERROR")
    assert body["message"] == f"User is not allowed to view org unit: `{outside}`"
    assert body["errorCode"] == "E2012"


def test_before_api_34_the_409_names_no_error_code(hub: Any) -> None:
    with hub.client(*CHIEFDOM_CLIENT) as http:
        response = http.get("/api/33/dataValueSets", params={**QUERY, "orgUnit": DISTRICT})
    assert response.status_code == 409
    assert "errorCode" not in response.json()
    assert response.json()["message"].endswith(f"`{DISTRICT}`")


def test_one_value_outside_is_a_409_e2020(hub: Any) -> None:
    key = {"de": VALUE["dataElement"], "pe": VALUE["period"], "co": VALUE["categoryOptionCombo"]}
    with hub.client(*CHIEFDOM_CLIENT) as http:
        inside = http.get("/api/dataValues", params={**key, "ou": FACILITY})
        outside = http.get("/api/dataValues", params={**key, "ou": DISTRICT})
    assert inside.json() == ["4"]
    assert outside.status_code == 409
    assert outside.json()["errorCode"] == "E2020"
    assert (
        outside.json()["message"]
        == f"Organisation unit is not in the hierarchy of the current user: `{DISTRICT}`"
    )


def test_a_client_without_roots_reads_everything(hub: Any) -> None:
    with hub.client(*OPEN_CLIENT) as http:
        everything = http.get(
            "/api/dataValueSets.json", params={**QUERY, "orgUnit": COUNTRY, "children": "true"}
        )
    assert _units(everything) == sorted([COUNTRY, DISTRICT, CHIEFDOM, FACILITY])
