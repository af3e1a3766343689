"""The DHIS2-compatible read API and ``POST /api/metadata``, over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dhis2.metadata.conftest import CLIENT


@pytest.fixture
def api(dhis2_hub: Any) -> httpx.Client:
    return dhis2_hub.client(*CLIENT)


def test_list_pages_with_defaults_like_dhis2(api: httpx.Client) -> None:
    body = api.get("/api/dataElements", params={"pageSize": 30, "page": 2}).json()

    assert body["pager"]["page"] == 2
    assert body["pager"]["pageCount"] == 3
    assert body["pager"]["total"] == 84
    assert body["pager"]["pageSize"] == 30
    assert "page=3" in body["pager"]["nextPage"]
    assert len(body["dataElements"]) == 30
    assert set(body["dataElements"][0]) == {"id", "displayName"}


def test_paging_false_returns_everything_without_a_pager(api: httpx.Client) -> None:
    body = api.get("/api/dataElements.json", params={"paging": "false"}).json()
    assert "pager" not in body
    assert len(body["dataElements"]) == 84


def test_fields_nested_all_and_exclusions(api: httpx.Client) -> None:
    body = api.get(
        "/api/organisationUnits", params={"fields": "id,name,code,parent[id]", "filter": "level:eq:4"}
    ).json()
    assert body["organisationUnits"] == [
        {"id": "DiszpKrYNg8", "name": "Ngelehun CHC", "code": "OU_559", "parent": {"id": "YuQRtpLP10I"}},
        {"id": "g8upMTyEZGZ", "name": "Njandama MCHP", "code": "OU_167609", "parent": {"id": "YuQRtpLP10I"}},
    ]
    everything = api.get("/api/dataSets", params={"fields": ":all,!organisationUnits"}).json()["dataSets"]
    malaria = next(d for d in everything if d["id"] == "qNtxTrp56wV")
    assert malaria["periodType"] == "Yearly" and malaria["timelyDays"] == 15
    assert "organisationUnits" not in malaria
    assert {
        "dataSet": {"id": "qNtxTrp56wV"},
        "dataElement": {"id": "dFaBg0HpoIL"},
        "categoryCombo": {"id": "BwnnrV1AkNj"},
    } in malaria["dataSetElements"]


FILTER_CASES = [
    (["code:eq:OU_559"], ["DiszpKrYNg8"]),
    (["name:ilike:ngel"], ["DiszpKrYNg8"]),
    (["name:like:Ngel"], ["DiszpKrYNg8"]),
    (["name:like:ngel"], []),
    (["name:startsWith:Nj"], ["g8upMTyEZGZ"]),
    (["id:in:[DiszpKrYNg8,ImspTQPwCqd]"], ["ImspTQPwCqd", "DiszpKrYNg8"]),
    (["level:ne:4", "level:ne:1"], ["O6uvpzGd5pu", "YuQRtpLP10I"]),
    (["parent.id:null"], ["ImspTQPwCqd"]),
    (["level:gt:3", "parent.id:!null"], ["DiszpKrYNg8", "g8upMTyEZGZ"]),
    (["path:startsWith:/ImspTQPwCqd/O6uvpzGd5pu/"], ["YuQRtpLP10I", "DiszpKrYNg8", "g8upMTyEZGZ"]),
]


def test_filters(api: httpx.Client) -> None:
    for filters, expected in FILTER_CASES:
        body = api.get(
            "/api/organisationUnits", params={"filter": filters, "order": "level:asc,name:asc"}
        ).json()
        assert [o["id"] for o in body["organisationUnits"]] == expected, filters


def test_bad_filter_is_a_400_web_message(api: httpx.Client) -> None:
    response = api.get("/api/organisationUnits", params={"filter": "colour:eq:red"})
    assert response.status_code == 400
    assert response.json()["httpStatus"] == "Bad Request"
    assert "colour" in response.json()["message"]


def test_single_object_and_404_web_message(api: httpx.Client) -> None:
    combo = api.get("/api/categoryOptionCombos/oPcWGgS2Liz.json").json()
    assert combo["categoryCombo"] == {"id": "BwnnrV1AkNj"}
    assert combo["categoryOptions"] == [{"id": "UPvKbcqTEY3"}]

    missing = api.get("/api/dataElements/NotThere001")
    assert missing.status_code == 404
    assert missing.json() == {
        "httpStatus": "Not Found",
        "httpStatusCode": 404,
        "status": "ERROR",
        "message": "DataElement with id NotThere001 could not be found.",
    }


def test_version_prefixes_and_suffixes(api: httpx.Client) -> None:
    for prefix in ("/api", "/api/29", "/api/33", "/api/42"):
        for path in (f"{prefix}/dataSets", f"{prefix}/dataSets.json", f"{prefix}/dataSets/qNtxTrp56wV.json"):
            assert api.get(path).status_code == 200, path


def test_unsupported_version_is_404(api: httpx.Client) -> None:
    assert api.get("/api/28/dataSets").status_code == 404


def test_org_unit_geometry_by_api_version(api: httpx.Client) -> None:
    modern = api.get("/api/32/organisationUnits/DiszpKrYNg8").json()
    legacy = api.get("/api/31/organisationUnits/DiszpKrYNg8").json()

    assert modern["geometry"] == {"type": "Point", "coordinates": [-11.4197, 8.1039]}
    assert "featureType" not in modern
    assert "geometry" not in legacy
    assert (legacy["featureType"], json.loads(legacy["coordinates"])) == ("POINT", [-11.4197, 8.1039])
    polygon = api.get("/api/29/organisationUnits/YuQRtpLP10I").json()
    assert polygon["featureType"] == "POLYGON"
    assert len(json.loads(polygon["coordinates"])[0][0][0]) == 2


def test_unauthenticated_is_a_401_web_message_with_a_basic_challenge(dhis2_hub: Any) -> None:
    for auth in (None, (CLIENT[0], "wrong")):
        response = httpx.get(f"{dhis2_hub.url}/api/organisationUnits", auth=auth)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Basic")
        assert response.json()["httpStatusCode"] == 401


def test_system_info_and_me(api: httpx.Client, dhis2_hub: Any) -> None:
    info = api.get("/api/system/info.json").json()
    assert info["version"] == "2.40.3"
    assert info["contextPath"] == dhis2_hub.url
    assert info["serverDate"]

    me = api.get("/api/me").json()
    assert me["username"] == CLIENT[0]
    assert me["organisationUnits"] == [{"id": "O6uvpzGd5pu"}]
    assert {r["name"] for r in me["userRoles"]} == {"dhis2", "partner"}
    assert "F_DATAVALUE_ADD" in me["authorities"]
    assert me["id"] == api.get("/api/26/me".replace("26", "40")).json()["id"]
    assert api.get("/api/me", params={"fields": "id,organisationUnits[id]"}).json().keys() == {
        "id",
        "organisationUnits",
    }


# -- POST /api/metadata --------------------------------------------------------------------------------

BAD = {
    "dataElements": [
        {"id": "deGood00001", "name": "Good", "valueType": "NUMBER"},
        {"id": "deBad000001", "name": "Bad"},
    ]
}
GOOD = {
    "organisationUnits": [
        {"id": "NewOrgUnit1", "name": "New", "openingDate": "2020-01-01", "parent": {"id": "DiszpKrYNg8"}}
    ]
}


def test_metadata_import_needs_an_admin(dhis2_hub: Any, api: httpx.Client) -> None:
    assert api.post("/api/metadata", json=GOOD).status_code == 401
    assert httpx.post(f"{dhis2_hub.url}/api/metadata", json=GOOD).json()["httpStatusCode"] == 401


def test_metadata_import_37_answers_the_plain_report(dhis2_hub: Any, api: httpx.Client) -> None:
    response = dhis2_hub.admin().post("/api/37/metadata", json=GOOD)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "OK"
    assert body["stats"] == {"created": 1, "updated": 0, "deleted": 0, "ignored": 0, "total": 1}
    assert body["typeReports"][0]["klass"] == "org.hisp.dhis.organisationunit.OrganisationUnit"
    created = api.get("/api/organisationUnits/NewOrgUnit1").json()
    assert created["path"] == "/ImspTQPwCqd/O6uvpzGd5pu/YuQRtpLP10I/DiszpKrYNg8/NewOrgUnit1"
    assert created["level"] == 5


@pytest.mark.parametrize("path", ["/api/metadata", "/api/38/metadata", "/api/41/metadata.json"])
def test_metadata_import_38_plus_wraps_and_answers_409_on_errors(dhis2_hub: Any, path: str) -> None:
    response = dhis2_hub.admin().post(path, json=BAD)

    assert response.status_code == 409
    body = response.json()
    assert (body["httpStatus"], body["status"]) == ("Conflict", "ERROR")
    report = body["response"]
    assert report["responseType"] == "ImportReport"
    assert report["stats"]["ignored"] == 2
    [object_report] = report["typeReports"][0]["objectReports"]
    assert object_report["errorReports"][0]["errorCode"] == "E4000"

    ok = dhis2_hub.admin().post(path, json=GOOD).json()
    assert (ok["httpStatusCode"], ok["status"], ok["response"]["stats"]["created"]) == (200, "OK", 1)


def test_metadata_validate_mode_and_atomic_none(dhis2_hub: Any, api: httpx.Client) -> None:
    admin = dhis2_hub.admin()
    validated = admin.post("/api/metadata", params={"importMode": "VALIDATE"}, json=GOOD).json()
    assert validated["response"]["stats"]["created"] == 1
    assert api.get("/api/organisationUnits/NewOrgUnit1").status_code == 404

    partial = admin.post("/api/metadata", params={"atomicMode": "NONE"}, json=BAD)
    assert partial.status_code == 409
    assert partial.json()["status"] == "WARNING"
    assert api.get("/api/dataElements/deGood00001").status_code == 200


def test_metadata_import_rejects_bad_json_and_parameters(dhis2_hub: Any) -> None:
    admin = dhis2_hub.admin()
    broken = admin.post(
        "/api/metadata",
        content=b'{"organisationUnits": [{"id": ',
        headers={"content-type": "application/json"},
    )
    assert broken.status_code == 400
    assert broken.json()["status"] == "ERROR"
    assert admin.post("/api/metadata", params={"importStrategy": "MERGE"}, json=GOOD).status_code == 400


def test_the_whole_shared_export_through_the_api(dhis2_hub: Any, shared_data: Path) -> None:
    body = (shared_data / "dhis2" / "aggregate-metadata.json").read_bytes()
    response = dhis2_hub.admin().post(
        "/api/metadata", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["response"]["stats"]["updated"] == 103
