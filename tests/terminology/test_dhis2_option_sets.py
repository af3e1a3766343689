"""Value sets as DHIS2 option sets: the pure export, and the pipeline against a DHIS2 stand-in."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from adapters.dhis2 import Dhis2Client
from hub.db.session import Database
from hub.pipelines.dhis2_connection import dhis2_config
from hub.pipelines.terminology_option_sets import PushRejected, build_payload, push, run
from terminology import dhis2, icd10
from terminology.dhis2 import OptionSource
from terminology.errors import InvalidResource
from tests.conftest import hub_settings, write_config

DHIS2 = "http://dhis2.test"
UID = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")


def test_uids_are_valid_deterministic_and_distinct() -> None:
    made = {dhis2.uid("optionSet", f"http://x/{n}") for n in range(5000)}
    assert len(made) == 5000 and all(UID.match(u) for u in made)
    assert dhis2.uid("a", "b") == dhis2.uid("a", "b") != dhis2.uid("a|b")


def test_dhis2_limits() -> None:
    long_display = OptionSource("http://s", "A1", "x" * 400)
    payload = dhis2.option_set([long_display], url="http://vs", name="Set", code="SET")
    assert len(payload["options"][0]["name"]) == 230 and payload["options"][0]["name"].endswith("…")
    with pytest.raises(InvalidResource, match="longer than DHIS2's 50 characters"):
        dhis2.option_set(
            [OptionSource("http://s", "C" * 51, "too long")], url="http://vs", name="Set", code="SET"
        )


def test_icd10_codes_as_an_option_set(db: Database) -> None:
    payload = build_payload(db, value_set_url=icd10.CODES_VALUE_SET)
    again = build_payload(db, value_set_url=icd10.CODES_VALUE_SET)
    assert payload == again  # idempotent: the same UIDs every time
    (option_set,) = payload["optionSets"]
    options = payload["options"]
    assert (option_set["code"], option_set["valueType"]) == ("ICD10CODES", "TEXT")
    assert len(options) == 12_246 and option_set["options"] == [{"id": o["id"]} for o in options]
    assert options[0] == {
        "id": options[0]["id"],
        "code": "A00",
        "name": "A00 Cholera",
        "sortOrder": 1,
        "optionSet": {"id": option_set["id"]},
    }
    assert len({o["name"] for o in options}) == len(options)  # names unique though displays repeat
    assert all(UID.match(o["id"]) and len(o["code"]) <= 50 and len(o["name"]) <= 230 for o in options)
    other = build_payload(db, value_set_url=f"{icd10.URL}?fhir_vs=isa/J09-J18")
    j189 = next(o for o in other["options"] if o["code"] == "J18.9")
    assert j189["id"] != next(o for o in options if o["code"] == "J18.9")["id"]  # one option set per option


def existing(payload: dict[str, Any]) -> dict[str, Any]:
    """The option set as DHIS2 answers GET /api/optionSets/{id} once it holds ``payload``."""
    (option_set,) = payload["optionSets"]
    fields = ("id", "code", "name", "sortOrder")
    return {
        "id": option_set["id"],
        "code": option_set["code"],
        "name": option_set["name"],
        "options": [{k: o[k] for k in fields} for o in payload["options"]],
    }


REPORT = {
    "status": "OK",
    "stats": {"created": 45, "updated": 0, "deleted": 0, "ignored": 0, "total": 45},
    "typeReports": [],
}


@responses.activate
def test_push_sends_only_changes(db: Database) -> None:
    payload = build_payload(db, value_set_url=f"{icd10.URL}?fhir_vs=isa/J09-J18", code="ICD10_J09_J18")
    uid = payload["optionSets"][0]["id"]
    option_set_url = f"{DHIS2}/api/optionSets/{uid}"
    client = Dhis2Client(dhis2_config(host=DHIS2, login="admin", password="district"))

    responses.get(option_set_url, status=404, json={"httpStatusCode": 404, "status": "ERROR"})
    posted = responses.post(
        f"{DHIS2}/api/metadata",
        json=REPORT,
        match=[
            matchers.query_param_matcher(
                {
                    "importMode": "COMMIT",
                    "identifier": "UID",
                    "importStrategy": "CREATE_AND_UPDATE",
                    "atomicMode": "ALL",
                }
            )
        ],
    )
    first = push(client, payload)
    assert first.changes.created and len(first.changes.added) == 45 and first.report.stats.created == 45
    assert json.loads(posted.calls[0].request.body) == payload
    assert posted.calls[0].request.headers["Authorization"] == "Basic YWRtaW46ZGlzdHJpY3Q="
    assert responses.calls[0].request.params == {"fields": "id,code,name,options[id,code,name,sortOrder]"}

    responses.replace(responses.GET, option_set_url, json=existing(payload))
    unchanged = push(client, payload)
    assert unchanged.report is None and not unchanged.changes.any and posted.call_count == 1

    renamed = existing(payload)
    renamed["options"][3]["name"] = "J10.0 Flu"
    del renamed["options"][5]
    renamed["options"].append({"id": "zzzzzzzzzzz", "code": "J99", "name": "gone", "sortOrder": 99})
    responses.replace(responses.GET, option_set_url, json=renamed)
    changed = push(client, payload)
    assert changed.changes.changed == [payload["options"][3]["code"]]
    assert changed.changes.added == [payload["options"][5]["code"]] and changed.changes.removed == ["J99"]
    assert posted.call_count == 2


@responses.activate
def test_a_refused_import_fails_the_push(db: Database) -> None:
    payload = build_payload(db, value_set_url=f"{icd10.URL}?fhir_vs=isa/J18")
    responses.get(re.compile(f"{DHIS2}/api/optionSets/.*"), status=404)
    conflict = {
        "httpStatus": "Conflict",
        "httpStatusCode": 409,
        "status": "ERROR",
        "message": "One or more errors occurred",
        "response": {
            "status": "ERROR",
            "stats": {"total": 0},
            "typeReports": [
                {
                    "klass": "Option",
                    "objectReports": [
                        {
                            "errorReports": [
                                {"message": "Property `code` must be unique", "errorCode": "E5003"}
                            ]
                        }
                    ],
                }
            ],
        },
    }
    responses.post(f"{DHIS2}/api/metadata", status=409, json=conflict)
    client = Dhis2Client(
        dhis2_config(host="dhis2.test:8080", login=None, password="d2pat_token", extra={"base_url": DHIS2})
    )
    with pytest.raises(PushRejected, match="E5003: Property `code` must be unique"):
        push(client, payload)
    assert responses.calls[1].request.headers["Authorization"] == "ApiToken d2pat_token"


@responses.activate
def test_hub_run_pushes_icd10_to_the_metadata_source(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = {
        "name": "national",
        "base_url": DHIS2,
        "auth": {"username": "hub", "secret_env": "TX_DHIS2_SECRET"},
    }
    config = write_config(tmp_path, {"dhis2": {"targets": [target], "metadata_source": "national"}})
    monkeypatch.setenv("TX_DHIS2_SECRET", "dhis2-secret-1")
    responses.get(re.compile(f"{DHIS2}/api/optionSets/.*"), status=404)
    posted = responses.post(f"{DHIS2}/api/metadata", json=REPORT)
    summary = run(hub_settings(database_url, config))
    assert (
        summary["created"]
        and summary["added"] == 12_246
        and summary["imported"]
        and summary["status"] == "OK"
    )
    assert len(json.loads(posted.calls[0].request.body)["options"]) == 12_246
