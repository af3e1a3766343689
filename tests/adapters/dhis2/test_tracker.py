"""Tracker imports: /api/tracker from 2.36, the legacy endpoints before, none of them on 2.42."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import responses

from adapters.dhis2 import Dhis2Client, ReportStatus, UnsupportedByVersion
from tests.adapters.dhis2.conftest import sent
from tests.adapters.dhis2.wire import (
    BASE,
    TRACKER_ERROR,
    VERSIONS,
    at_least,
    job_started,
    legacy_summaries,
    notifications,
    tracker_job_added,
    tracker_report,
)

LEGACY_PATHS = ["/dhis/api/trackedEntityInstances", "/dhis/api/enrollments", "/dhis/api/events"]


@pytest.fixture
def payload(dhis2_data: Path) -> dict[str, Any]:
    return json.loads((dhis2_data / "tracker-trackedEntities-with-enrollments-and-events.json").read_text())


def mock_legacy(rsps: responses.RequestsMock, enrollment_conflict: str | None = None) -> None:
    conflicts = {"PuBvJxDB73z": enrollment_conflict} if enrollment_conflict else None
    for path, refs, found in [
        ("trackedEntityInstances", ["Kj6vYde4LHh", "Nav6inZRw1u"], None),
        ("enrollments", ["MNWZ6hnuhSw", "PuBvJxDB73z"], conflicts),
        ("events", ["ZwwuwNp6gVd", "olfXZzSGacW"], None),
    ]:
        status, body = legacy_summaries(refs, found)
        rsps.post(f"{BASE}/api/{path}", status=status, json=body)


@pytest.mark.parametrize("version", VERSIONS, ids=VERSIONS)
def test_endpoint_follows_the_version(
    version: str, dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock, payload: dict[str, Any]
) -> None:
    new = at_least(version, "2.36")
    if new:
        rsps.post(f"{BASE}/api/tracker", json=tracker_report())
    else:
        mock_legacy(rsps)

    report = dhis2(version).tracker.import_(payload)

    assert report.status is ReportStatus.OK
    posts = [c for c in sent(rsps) if c.method == "POST"]
    if new:
        [post] = posts
        assert post.path == "/dhis/api/tracker"
        assert post.params == {"importStrategy": "CREATE_AND_UPDATE", "async": "false"}
        assert post.json() == payload
        assert report.stats.created == 7 and report.bundle_report is not None
    else:
        assert [p.path for p in posts] == LEGACY_PATHS
        assert all(p.params == {"importStrategy": "CREATE_AND_UPDATE"} for p in posts)
        assert report.stats.created == 6


def test_legacy_bodies_use_the_old_names(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock, payload: dict[str, Any]
) -> None:
    mock_legacy(rsps)

    dhis2("2.35.4").tracker.import_(payload)

    entities, enrollments, events = (c.json() for c in sent(rsps) if c.method == "POST")
    assert [e["trackedEntityInstance"] for e in entities["trackedEntityInstances"]] == [
        "Kj6vYde4LHh",
        "Nav6inZRw1u",
    ]
    assert all(
        "enrollments" not in e and "trackedEntity" not in e for e in entities["trackedEntityInstances"]
    )
    first = enrollments["enrollments"][0]
    assert first["trackedEntityInstance"] == "Kj6vYde4LHh"
    assert (first["enrollmentDate"], first["incidentDate"]) == (
        "2019-08-19T00:00:00.000",
        "2019-08-19T12:00:00.000",
    )
    assert not {"enrolledAt", "occurredAt", "events", "relationships"} & first.keys()
    event = events["events"][1]
    assert (event["event"], event["enrollment"], event["trackedEntityInstance"]) == (
        "olfXZzSGacW",
        "PuBvJxDB73z",
        "Nav6inZRw1u",
    )
    assert (event["eventDate"], event["dueDate"]) == ("2019-08-07T00:00:00.000", "2019-08-19T13:34:52.793")
    assert event["dataValues"][0]["lastUpdated"] == "2019-08-19T13:34:47.403"
    assert "updatedAt" not in event["dataValues"][0]


def test_legacy_conflicts_fold_into_one_report(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock, payload: dict[str, Any]
) -> None:
    mock_legacy(
        rsps, enrollment_conflict="TrackedEntityInstance Nav6inZRw1u already enrolled in program f1AyMswryyQ"
    )

    report = dhis2("2.33.9").tracker.import_(payload)

    assert report.status is ReportStatus.WARNING and report.http_status == 409
    assert (report.stats.created, report.stats.ignored, report.stats.total) == (5, 1, 6)
    [error] = report.errors
    assert (error.tracker_type, error.uid) == ("ENROLLMENT", "PuBvJxDB73z")
    assert "already enrolled" in error.message


def test_sync_error_report_arrives_with_409(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock, payload: dict[str, Any]
) -> None:
    rsps.post(f"{BASE}/api/tracker", status=409, json=tracker_report("ERROR", [TRACKER_ERROR]))

    report = dhis2("2.40.3").tracker.import_(payload, atomic_mode="OBJECT", dry_run=True)

    assert report.status is ReportStatus.ERROR and report.http_status == 409
    assert report.stats.ignored == 7 and report.bundle_report is None
    [error] = report.errors
    assert (error.error_code, error.tracker_type, error.uid) == ("E1049", "TRACKED_ENTITY", "Kj6vYde4LHh")
    assert sent(rsps, "/tracker")[0].params == {
        "importStrategy": "CREATE_AND_UPDATE",
        "atomicMode": "OBJECT",
        "importMode": "VALIDATE",
        "async": "false",
    }


@pytest.mark.parametrize("version", ["2.36.13", "2.41.1"], ids=["2.36", "2.41"])
def test_async_job_report(
    version: str,
    dhis2: Callable[..., Dhis2Client],
    rsps: responses.RequestsMock,
    sleeps: list[float],
    payload: dict[str, Any],
) -> None:
    job = f"{BASE}/api/tracker/jobs/LkXBUdIgbe3"
    rsps.post(f"{BASE}/api/tracker", json=tracker_job_added("LkXBUdIgbe3"))
    rsps.get(job, json=notifications("TRACKER_IMPORT_JOB", completed=False))
    rsps.get(job, json=notifications("TRACKER_IMPORT_JOB", completed=True))
    rsps.get(f"{job}/report", json=tracker_report())

    report = dhis2(version).tracker.import_(payload, async_=True)

    assert report.status is ReportStatus.OK and report.stats.created == 7
    tracker_calls = sent(rsps, "/tracker")
    assert tracker_calls[0].params == {"importStrategy": "CREATE_AND_UPDATE", "async": "true"}
    assert [c.path for c in tracker_calls[1:]] == [
        "/dhis/api/tracker/jobs/LkXBUdIgbe3",
        "/dhis/api/tracker/jobs/LkXBUdIgbe3",
        "/dhis/api/tracker/jobs/LkXBUdIgbe3/report",
    ]
    assert sleeps == [0.25]


def test_async_legacy_import_waits_for_each_job(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock, payload: dict[str, Any]
) -> None:
    for path, job_type, job_id, refs in [
        ("trackedEntityInstances", "TEI_IMPORT", "a1111111111", ["Kj6vYde4LHh", "Nav6inZRw1u"]),
        ("enrollments", "ENROLLMENT_IMPORT", "b2222222222", ["MNWZ6hnuhSw", "PuBvJxDB73z"]),
        ("events", "EVENT_IMPORT", "c3333333333", ["ZwwuwNp6gVd", "olfXZzSGacW"]),
    ]:
        rsps.post(f"{BASE}/api/{path}", json=job_started(job_type, job_id))
        rsps.get(f"{BASE}/api/system/tasks/{job_type}/{job_id}", json=notifications(job_type, completed=True))
        # The task summary is the bare ImportSummaries.
        rsps.get(
            f"{BASE}/api/system/taskSummaries/{job_type}/{job_id}", json=legacy_summaries(refs)[1]["response"]
        )

    report = dhis2("2.29").tracker.import_(payload, async_=True)

    assert report.status is ReportStatus.OK and report.stats.created == 6
    order = [c.path.rsplit("/", 2)[-2] if "/system/" in c.path else c.path for c in sent(rsps)[1:]]
    assert order == [
        "/dhis/api/trackedEntityInstances",
        "TEI_IMPORT",
        "TEI_IMPORT",
        "/dhis/api/enrollments",
        "ENROLLMENT_IMPORT",
        "ENROLLMENT_IMPORT",
        "/dhis/api/events",
        "EVENT_IMPORT",
        "EVENT_IMPORT",
    ]


@pytest.mark.parametrize(
    ("version", "endpoint", "message"),
    [
        ("2.42.0", "legacy", "removed in 2.42"),
        ("2.42-SNAPSHOT", "legacy", "removed in 2.42"),
        ("2.29", "tracker", "exists from DHIS2 2.36"),
    ],
    ids=["legacy-on-2.42", "legacy-on-snapshot", "tracker-on-2.29"],
)
def test_endpoint_refused_where_it_does_not_exist(
    version: str,
    endpoint: str,
    message: str,
    dhis2: Callable[..., Dhis2Client],
    rsps: responses.RequestsMock,
    payload: dict[str, Any],
) -> None:
    with pytest.raises(UnsupportedByVersion, match=message):
        dhis2(version).tracker.import_(payload, endpoint=endpoint)
    assert [c.path for c in sent(rsps)] == ["/dhis/api/system/info"]


def test_legacy_endpoints_on_request_before_2_42(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock, payload: dict[str, Any]
) -> None:
    mock_legacy(rsps)

    dhis2("2.41.1").tracker.import_(payload, endpoint="legacy", dry_run=True)

    assert [c.path for c in sent(rsps) if c.method == "POST"] == LEGACY_PATHS
    assert sent(rsps, "/events")[0].params == {"importStrategy": "CREATE_AND_UPDATE", "dryRun": "true"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {
                "relationships": [
                    {
                        "relationshipType": "Udhj3bsdHeT",
                        "from": {"trackedEntity": "Kj6vYde4LHh"},
                        "to": {"trackedEntity": "Nav6inZRw1u"},
                    }
                ]
            },
            "relationships",
        ),
        ({}, "atomic_mode exists on /api/tracker only"),
    ],
    ids=["relationships", "atomic-mode"],
)
def test_legacy_refuses_what_it_cannot_send(
    change: dict[str, Any],
    message: str,
    dhis2: Callable[..., Dhis2Client],
    payload: dict[str, Any],
) -> None:
    with pytest.raises(UnsupportedByVersion, match=message):
        dhis2("2.35.4").tracker.import_({**payload, **change}, atomic_mode=None if change else "ALL")


def test_tracker_path_is_never_versioned(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock, payload: dict[str, Any]
) -> None:
    # 2.36 and 2.37 answer /api/tracker only, not /api/37/tracker.
    rsps.post(f"{BASE}/api/tracker", json=tracker_report())

    dhis2("2.37.9", api_version=37).tracker.import_(payload)

    assert sent(rsps, "/tracker")[0].path == "/dhis/api/tracker"


def test_flat_payload_to_legacy_endpoints(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    status, body = legacy_summaries(["ZwwuwNp6gVd"])
    rsps.post(f"{BASE}/api/events", status=status, json=body)
    event = {
        "event": "ZwwuwNp6gVd",
        "program": "f1AyMswryyQ",
        "programStage": "nlXNK4b7LVr",
        "orgUnit": "O6uvpzGd5pu",
        "occurredAt": "2019-08-01T00:00:00.000",
        "status": "COMPLETED",
        "completedAt": "2019-08-02T00:00:00.000",
        "dataValues": [{"dataElement": "BuZ5LGNfGEU", "value": "20"}],
    }

    report = dhis2("2.34.8").tracker.import_({"events": [event]})

    assert report.stats.created == 1
    [sent_event] = sent(rsps, "/events")[0].json()["events"]
    assert (sent_event["eventDate"], sent_event["completedDate"]) == (
        "2019-08-01T00:00:00.000",
        "2019-08-02T00:00:00.000",
    )
