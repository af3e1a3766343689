"""The DHIS2-compatible routes over real HTTP: content types, path suffixes, API-version answer shapes,
async jobs, reading back, completeness registrations."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from hub.dhis2.datavalues.models import CompleteRegistration
from hub.transactions.models import Transaction
from tests.dhis2.datavalues.conftest import CLIENT

VALUE = {"dataElement": "BjDrgVrkBI3", "period": "201911", "orgUnit": "O6uvpzGd5pu",
         "categoryOptionCombo": "oPcWGgS2Liz", "value": "12"}  # fmt: skip
BAD = {**VALUE, "orgUnit": "UnknownOU01"}


def client(hub: Any) -> httpx.Client:
    return hub.client(*CLIENT)


def post(
    hub: Any, path: str, body: Any, content_type: str = "application/json", **params: str
) -> httpx.Response:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    with client(hub) as http:
        return http.post(path, content=data, params=params, headers={"Content-Type": content_type})


def test_success_is_a_web_message_from_api_38(dhis2_hub: Any) -> None:
    response = post(dhis2_hub, "/api/dataValueSets", {"dataValues": [VALUE]})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["message"]) == ("OK", "Import was successful.")
    assert body["response"]["importCount"]["imported"] == 1
    assert response.headers["x-hub-transaction-id"].isdigit()


def test_conflicts_answer_409_from_api_38(dhis2_hub: Any) -> None:
    response = post(dhis2_hub, "/api/41/dataValueSets.json", {"dataValues": [VALUE, BAD]})
    assert response.status_code == 409
    body = response.json()
    assert (body["httpStatus"], body["status"]) == ("Conflict", "WARNING")
    (conflict,) = body["response"]["conflicts"]
    assert (conflict["errorCode"], conflict["indexes"], conflict["property"]) == ("E7612", [1], "orgUnit")
    assert body["response"]["rejectedIndexes"] == [1]


@pytest.mark.parametrize(("version", "indexed"), [(37, True), (36, False), (29, False)])
def test_api_37_and_below_answer_the_plain_summary(dhis2_hub: Any, version: int, indexed: bool) -> None:
    response = post(dhis2_hub, f"/api/{version}/dataValueSets", {"dataValues": [VALUE, BAD]})
    assert response.status_code == 200
    body = response.json()
    assert (body["responseType"], body["status"]) == ("ImportSummary", "WARNING")
    assert body["importCount"] == {"imported": 1, "updated": 0, "ignored": 1, "deleted": 0}
    assert ("errorCode" in body["conflicts"][0]) is indexed
    assert "rejectedIndexes" not in body


@pytest.mark.parametrize(
    ("name", "content_type", "path", "params"),
    [
        ("dataValueSetB.xml", "application/xml", "/api/dataValueSets", {}),
        ("dataValueSetB.xml", "text/xml", "/api/40/dataValueSets.xml", {}),
        ("dataValueSetB.csv", "application/csv", "/api/dataValueSets.csv", {}),
        ("dataValueSetB.csv", "text/csv; charset=utf-8", "/api/dataValueSets", {}),
        ("dataValueSetBCode.xml", "application/xml", "/api/dataValueSets", {"idScheme": "code"}),
        ("dataValueSetBAttributeIdScheme.xml", "application/xml", "/api/dataValueSets", {}),
        ("importA.adx.xml", "application/adx+xml", "/api/dataValueSets", {}),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_every_format_over_http(
    dhis2_hub: Any, shared_data: Path, name: str, content_type: str, path: str, params: dict[str, str]
) -> None:
    response = post(dhis2_hub, path, (shared_data / "dhis2" / name).read_bytes(), content_type, **params)
    assert response.status_code == 200, response.text
    assert response.json()["response"]["importCount"]["imported"] in (12, 9)


def test_unknown_content_type_and_missing_credentials(dhis2_hub: Any) -> None:
    assert post(dhis2_hub, "/api/dataValueSets", b"x", "text/plain").status_code == 415
    wrong = post(dhis2_hub, "/api/dataValueSets", {"dataValues": []}, importStrategy="MERGE")
    assert (wrong.status_code, wrong.json()["status"]) == (400, "ERROR")
    anonymous = httpx.post(f"{dhis2_hub.url}/api/dataValueSets", json={"dataValues": [VALUE]})
    assert anonymous.status_code == 401
    assert anonymous.json()["httpStatusCode"] == 401


def test_malformed_json_is_a_failed_import(dhis2_hub: Any) -> None:
    response = post(dhis2_hub, "/api/dataValueSets", b'{"dataValues": [')
    assert response.status_code == 409
    assert response.json()["response"]["description"].startswith("The import process failed")


def test_async_import_reports_progress_and_summary(dhis2_hub: Any) -> None:
    started = post(dhis2_hub, "/api/dataValueSets", {"dataValues": [VALUE, BAD]}, **{"async": "true"})
    assert started.status_code == 200
    job = started.json()
    assert job["message"] == "Initiated dataValueImport"
    endpoint = job["response"]["relativeNotifierEndpoint"]
    assert endpoint == f"/api/system/tasks/DATAVALUE_IMPORT/{job['response']['id']}"
    with client(dhis2_hub) as http:
        deadline = time.monotonic() + 20
        while not (notes := http.get(endpoint).json())[0]["completed"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        summary = http.get(endpoint.replace("/tasks/", "/taskSummaries/")).json()
    assert notes[-1]["message"] == "Import job scheduled"
    assert summary["importCount"]["imported"] == 1
    assert summary["conflicts"][0]["errorCode"] == "E7612"


def test_values_read_back_in_every_format(dhis2_hub: Any) -> None:
    post(dhis2_hub, "/api/dataValueSets", {"dataValues": [VALUE]})
    query = {"dataSet": "VEM58nY22sO", "period": "201911", "orgUnit": "ImspTQPwCqd", "children": "true"}
    with client(dhis2_hub) as http:
        values = http.get("/api/dataValueSets.json", params=query).json()["dataValues"]
        csv_text = http.get("/api/dataValueSets.csv", params=query).text
        xml_text = http.get("/api/dataValueSets", params=query, headers={"Accept": "application/xml"}).text
        single = http.get("/api/dataValues", params={"de": "BjDrgVrkBI3", "pe": "201911", "ou": "O6uvpzGd5pu",
                                                     "co": "oPcWGgS2Liz"})  # fmt: skip
        missing = http.get(
            "/api/dataValues", params={"de": "BjDrgVrkBI3", "pe": "201912", "ou": "O6uvpzGd5pu"}
        )
        incomplete = http.get("/api/dataValueSets", params={"period": "201911"})
    assert [(v["dataElement"], v["value"]) for v in values] == [("BjDrgVrkBI3", "12")]
    assert "BjDrgVrkBI3,201911,O6uvpzGd5pu,oPcWGgS2Liz" in csv_text
    assert 'value="12"' in xml_text
    assert single.json() == ["12"]
    assert missing.status_code == 404
    assert incomplete.status_code == 409


def test_complete_data_set_registrations(dhis2_hub: Any) -> None:
    document = {"completeDataSetRegistrations": [
        {"dataSet": "VEM58nY22sO", "period": "201911", "organisationUnit": "O6uvpzGd5pu", "completed": True},
        {"dataSet": "VEM58nY22sO", "period": "2019-99", "organisationUnit": "O6uvpzGd5pu"},
    ]}  # fmt: skip
    response = post(dhis2_hub, "/api/37/completeDataSetRegistrations", document)
    body = response.json()
    assert body["importCount"] == {"imported": 1, "updated": 0, "ignored": 1, "deleted": 0}
    assert body["conflicts"][0]["errorCode"] == "E7611"
    again = post(dhis2_hub, "/api/37/completeDataSetRegistrations", document).json()
    assert again["importCount"]["updated"] == 1


REGISTRATION = {"dataSet": "VEM58nY22sO", "period": "201911", "organisationUnit": "O6uvpzGd5pu"}


def registered_dates(hub: Any) -> dict[str, str | None]:
    """The stored registrations' completion dates, by period."""
    with hub.runtime.db.session() as session:
        return {r.period: r.date for r in session.scalars(select(CompleteRegistration))}


@pytest.mark.parametrize(
    "date", ["2019-12-01", "2019-12", "2019", "2019-12-01T10:20:30.123+0100", "2019-12-01T10:20:30Z"]
)
def test_a_completion_date_in_any_form_dhis2_reads_is_registered(dhis2_hub: Any, date: str) -> None:
    document = {"completeDataSetRegistrations": [{**REGISTRATION, "date": date}]}
    body = post(dhis2_hub, "/api/37/completeDataSetRegistrations", document).json()
    assert body["status"] == "SUCCESS", body
    assert registered_dates(dhis2_hub) == {"201911": date}


@pytest.mark.parametrize("date", ["yesterday", "2019-13-01", "2019-02-30", "2019-12-01T25", "x" * 41])
def test_a_completion_date_dhis2_cannot_read_fails_the_import_and_registers_nothing(
    dhis2_hub: Any, date: str
) -> None:
    """As DHIS2's date parser throws out of the import: a 409 WebMessage, nothing stored; and a
    dataValueSet's ``completeDate`` fails its import's summary without registering."""
    good = {**REGISTRATION, "period": "201912"}
    response = post(dhis2_hub, "/api/completeDataSetRegistrations",
                    {"completeDataSetRegistrations": [good, {**REGISTRATION, "date": date}]})  # fmt: skip
    in_set = post(dhis2_hub, "/api/37/dataValueSets",
                  {"dataSet": "VEM58nY22sO", "completeDate": date, "period": "201911",
                   "orgUnit": "O6uvpzGd5pu", "dataValues": [VALUE]}).json()  # fmt: skip

    assert response.status_code == 409
    assert response.json()["message"] == f'Invalid format: "{date}"'
    assert (in_set["status"], in_set["description"]) == (
        "ERROR",
        f'The import process failed: Invalid format: "{date}"',
    )
    assert in_set["importCount"]["imported"] == 1, "the set's values stand, as DHIS2's"
    assert registered_dates(dhis2_hub) == {}


@pytest.mark.parametrize(
    ("stored_by", "problem"),
    [
        ("nurse\x00", "stored_by_contains_nul_character"),
        ("n" * 256, "stored_by_length_greater_than_max_length"),
    ],
    ids=["nul", "too-long"],
)
def test_a_registrations_stored_by_the_store_cannot_hold_is_its_own_conflict(
    dhis2_hub: Any, stored_by: str, problem: str
) -> None:
    document = {"completeDataSetRegistrations": [
        {**REGISTRATION, "storedBy": stored_by},
        {**REGISTRATION, "period": "201912", "storedBy": "n" * 255},
    ]}  # fmt: skip
    body = post(dhis2_hub, "/api/37/completeDataSetRegistrations", document).json()
    assert body["importCount"] == {"imported": 1, "updated": 0, "ignored": 1, "deleted": 0}
    assert [(c["errorCode"], c["value"]) for c in body["conflicts"]] == [
        ("E7637", f"Invalid storedBy: {problem}")
    ]


def test_each_post_is_logged_as_a_transaction(dhis2_hub: Any) -> None:
    response = post(dhis2_hub, "/api/dataValueSets", {"dataValues": [VALUE, BAD]})
    with dhis2_hub.admin() as admin:
        entry = admin.get(f"/admin/transactions/{response.headers['x-hub-transaction-id']}").json()
    assert entry["status"] == "Completed"
    assert entry["client_id"] == CLIENT[0]
    assert "E7612" in entry["response_body"]
    with dhis2_hub.runtime.db.session() as session:
        logged = session.get(Transaction, entry["id"])
    assert logged.instance == dhis2_hub.settings.instance_name, "owned by the hub process that serves it"
