"""GET and POST /api/metadata, and upsert through it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import responses

from adapters.dhis2 import Dhis2Client, ReportStatus
from tests.adapters.dhis2.conftest import sent
from tests.adapters.dhis2.wire import (
    BASE,
    METADATA_ERROR,
    VERSIONS,
    at_least,
    job_started,
    metadata_report,
    notifications,
)

URL = f"{BASE}/api/metadata"


@pytest.fixture
def metadata(dhis2_data: Path) -> dict[str, Any]:
    return json.loads((dhis2_data / "aggregate-metadata.json").read_text())


def test_export(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock, metadata: dict[str, Any]
) -> None:
    exported = {
        "system": {"version": "2.40.3"},
        "dataElements": metadata["dataElements"],
        "dataSets": metadata["dataSets"],
    }
    rsps.get(URL, json=exported)

    doc = dhis2(None).metadata.export(
        "dataElements", "dataSets", fields=":owner", params={"dataElements:filter": "valueType:eq:NUMBER"}
    )

    assert doc["dataElements"] == metadata["dataElements"]
    [call] = sent(rsps)
    assert (call.method, call.path) == ("GET", "/dhis/api/metadata")
    assert call.params == {
        "dataElements": "true",
        "dataSets": "true",
        "fields": ":owner",
        "dataElements:filter": "valueType:eq:NUMBER",
    }


@pytest.mark.parametrize("version", VERSIONS, ids=VERSIONS)
@pytest.mark.parametrize("outcome", ["OK", "ERROR"])
def test_import_report_in_every_shape(
    version: str,
    outcome: str,
    dhis2: Callable[..., Dhis2Client],
    rsps: responses.RequestsMock,
    metadata: dict[str, Any],
) -> None:
    status, body = metadata_report(version, outcome, created=75 if outcome == "OK" else 0)
    rsps.post(URL, status=status, json=body)

    report = dhis2(None).metadata.import_(metadata, atomic_mode="ALL")

    assert report.status == outcome
    assert report.http_status == (409 if outcome == "ERROR" and at_least(version, "2.38") else 200)
    assert report.type_reports[0].klass == "org.hisp.dhis.dataelement.DataElement"
    if outcome == "OK":
        assert report.stats.created == 75 and report.error_reports == []
    else:
        [error] = report.error_reports
        assert (error.error_code, error.error_property, error.main_klass) == (
            "E4000",
            "shortName",
            METADATA_ERROR["mainKlass"],
        )
        assert report.type_reports[0].object_reports[0].uid == "tpz77FcntKx"
    [call] = sent(rsps)
    assert (call.method, call.path, call.headers["Content-Type"]) == (
        "POST",
        "/dhis/api/metadata",
        "application/json",
    )
    assert call.params == {
        "importMode": "COMMIT",
        "identifier": "UID",
        "importStrategy": "CREATE_AND_UPDATE",
        "atomicMode": "ALL",
    }
    assert call.json() == metadata


def test_validate_only_import(dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock) -> None:
    rsps.post(URL, json=metadata_report("2.40.3")[1])

    dhis2(None).metadata.import_(
        {"dataElements": []}, import_mode="VALIDATE", identifier="CODE", atomic_mode="NONE"
    )

    assert sent(rsps)[0].params == {
        "importMode": "VALIDATE",
        "identifier": "CODE",
        "importStrategy": "CREATE_AND_UPDATE",
        "atomicMode": "NONE",
    }


def test_async_import(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock, metadata: dict[str, Any]
) -> None:
    rsps.post(URL, json=job_started("METADATA_IMPORT", "mG0ZRqXbHQ7"))
    rsps.get(
        f"{BASE}/api/system/tasks/METADATA_IMPORT/mG0ZRqXbHQ7", json=notifications("METADATA_IMPORT", True)
    )
    # The task summary is the plain report, whatever the release.
    rsps.get(
        f"{BASE}/api/system/taskSummaries/METADATA_IMPORT/mG0ZRqXbHQ7",
        json=metadata_report("2.36.13", created=75)[1],
    )

    report = dhis2(None).metadata.import_(metadata, async_=True)

    assert report.status is ReportStatus.OK and report.stats.created == 75
    assert sent(rsps)[0].params["async"] == "true"


def test_upsert_is_a_create_and_update_import(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    element = {
        "id": "fbfJHSPpUQD",
        "name": "ANC 1st visit",
        "shortName": "ANC 1",
        "valueType": "NUMBER",
        "aggregationType": "SUM",
        "domainType": "AGGREGATE",
    }
    rsps.post(URL, json=metadata_report("2.41.1", updated=1)[1])

    report = dhis2(None).upsert("dataElements", element)

    assert report.stats.updated == 1
    [call] = sent(rsps)
    assert call.json() == {"dataElements": [element]}
    assert call.params["importStrategy"] == "CREATE_AND_UPDATE"
