"""POST /api/dataValueSets across releases, formats, async jobs and chunking."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from adapters.dhis2 import AdapterError, Dhis2Client, IdSchemes, ImportStatus, JobFailed, JobTimeout
from tests.adapters.dhis2.conftest import BASIC_HEADER, sent
from tests.adapters.dhis2.wire import (
    BASE,
    VERSIONS,
    XML_SUMMARY,
    at_least,
    conflict,
    data_value_reply,
    import_summary,
    job_started,
    notifications,
)
from tests.adapters.sent import Sent

URL = f"{BASE}/api/dataValueSets"


@pytest.fixture
def data_value_set(dhis2_data: Path) -> dict[str, Any]:
    return json.loads((dhis2_data / "aggregate-dataValues-single-dataset.json").read_text())


@pytest.mark.parametrize("version", VERSIONS, ids=VERSIONS)
def test_success(
    version: str,
    dhis2: Callable[..., Dhis2Client],
    rsps: responses.RequestsMock,
    data_value_set: dict[str, Any],
) -> None:
    status, body = data_value_reply(version, imported=2)
    rsps.post(URL, status=status, json=body)

    summary = dhis2(None).data_value_sets.post(data_value_set)

    assert summary.status is ImportStatus.SUCCESS and summary.ok
    assert summary.import_count.imported == 2 and summary.conflicts == []
    assert summary.http_status == 200 and summary.data_set_complete == "false"
    [call] = sent(rsps)
    assert (call.method, call.path, call.query) == ("POST", "/dhis/api/dataValueSets", {})
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["Authorization"] == BASIC_HEADER
    assert call.json() == data_value_set


@pytest.mark.parametrize("version", VERSIONS, ids=VERSIONS)
@pytest.mark.parametrize("outcome", ["WARNING", "ERROR"])
def test_conflicts_are_a_result_in_every_shape(
    version: str,
    outcome: str,
    dhis2: Callable[..., Dhis2Client],
    rsps: responses.RequestsMock,
    data_value_set: dict[str, Any],
) -> None:
    imported = 1 if outcome == "WARNING" else 0
    status, body = data_value_reply(
        version,
        outcome,
        imported=imported,
        ignored=2 - imported,
        conflicts=[conflict(version, indexes=[0, 1])],
        rejected=[0, 1] if outcome == "ERROR" else [1],
    )
    rsps.post(URL, status=status, json=body)

    summary = dhis2(None).data_value_sets.post(data_value_set)

    assert summary.status == outcome and not summary.ok
    assert summary.import_count.ignored == 2 - imported
    assert summary.http_status == (409 if at_least(version, "2.38") else 200)
    [found] = summary.conflicts
    assert found.object == "DiszpKrYNg8" and "not in hierarchy" in found.value
    if at_least(version, "2.37"):
        assert (found.error_code, found.property, found.indexes) == ("E7617", "orgUnit", [0, 1])
        assert found.objects == {"organisationUnit": "DiszpKrYNg8"}
    if at_least(version, "2.38"):
        assert summary.message and "please check import summary" in summary.message
    assert summary.rejected_indexes == (
        ([0, 1] if outcome == "ERROR" else [1]) if at_least(version, "2.41") else []
    )


def test_pinned_api_version_gets_the_plain_summary(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock, data_value_set: dict[str, Any]
) -> None:
    # /api/37/... on a 2.41 server answers in the 2.37 shape: HTTP 200, no WebMessage.
    rsps.post(
        f"{BASE}/api/37/dataValueSets",
        json=import_summary("2.37.0", "WARNING", imported=1, ignored=1, conflicts=[conflict("2.37.0")]),
    )

    summary = dhis2(None, api_version=37).data_value_sets.post(data_value_set)

    assert (summary.status, summary.http_status, summary.conflicts[0].error_code) == ("WARNING", 200, "E7617")


def test_web_message_without_summary_becomes_an_error_result(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock, data_value_set: dict[str, Any]
) -> None:
    rsps.post(
        URL,
        status=409,
        json={
            "httpStatus": "Conflict",
            "httpStatusCode": 409,
            "status": "ERROR",
            "message": "Data set not found or not accessible: `VEM58nY22sO`",
            "errorCode": "E7600",
        },
    )

    summary = dhis2(None).data_value_sets.post(data_value_set)

    assert summary.status is ImportStatus.ERROR and summary.http_status == 409
    assert summary.conflicts[0].error_code == "E7600" and "VEM58nY22sO" in summary.conflicts[0].value


def test_options_go_into_the_query(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock, data_value_set: dict[str, Any]
) -> None:
    rsps.post(URL, json=data_value_reply("2.40.3", imported=2)[1])

    dhis2(None).data_value_sets.post(
        data_value_set,
        id_schemes=IdSchemes(org_unit_id_scheme="code", data_element_id_scheme="attribute:Y1LUDU8sWBR"),
        dry_run=True,
        import_strategy="CREATE",
        params={"skipAudit": "true"},
    )

    assert sent(rsps)[0].params == {
        "orgUnitIdScheme": "code",
        "dataElementIdScheme": "attribute:Y1LUDU8sWBR",
        "dryRun": "true",
        "importStrategy": "CREATE",
        "skipAudit": "true",
    }


@pytest.mark.parametrize(
    ("file", "format", "content_type", "schemes"),
    [
        ("dataValueSetB.csv", "csv", "application/csv", IdSchemes()),
        ("importA.adx.xml", "adx", "application/adx+xml", IdSchemes(id_scheme="code")),
        ("dataValueSetBCode.xml", "xml", "application/xml", IdSchemes(id_scheme="code")),
    ],
    ids=["csv", "adx", "xml"],
)
def test_files_are_sent_as_is_with_their_content_type(
    file: str,
    format: str,
    content_type: str,
    schemes: IdSchemes,
    dhis2_data: Path,
    dhis2: Callable[..., Dhis2Client],
    rsps: responses.RequestsMock,
) -> None:
    received: list[Sent] = []

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        received.append(Sent.of(request))  # the file body can only be read while the call is on
        return (
            200,
            {"Content-Type": "application/json"},
            json.dumps(data_value_reply("2.36.13", imported=12)[1]),
        )

    rsps.add_callback(responses.POST, URL, callback=answer)

    summary = dhis2(None).data_value_sets.post(dhis2_data / file, format=format, id_schemes=schemes)

    assert summary.import_count.imported == 12
    [call] = received
    assert call.headers["Content-Type"] == content_type
    assert call.body == (dhis2_data / file).read_bytes()
    assert call.params == schemes.params()


def test_xml_summary_of_older_releases_is_parsed(
    dhis2_data: Path, dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    # Up to 2.37 XML and ADX posts are answered in XML whatever the Accept header says.
    rsps.post(URL, body=XML_SUMMARY, content_type="application/xml;charset=UTF-8")

    summary = dhis2(None).data_value_sets.post((dhis2_data / "importA.adx.xml").read_text(), format="adx")

    assert summary.status is ImportStatus.WARNING
    assert (summary.import_count.imported, summary.import_count.ignored) == (10, 2)
    assert summary.conflicts[0].object == "BdfsJfj87js"


def test_objects_cannot_be_sent_as_csv(
    dhis2: Callable[..., Dhis2Client], data_value_set: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="sent as JSON"):
        dhis2(None).data_value_sets.post(data_value_set, format="csv")


@pytest.mark.parametrize("version", ["2.29", "2.40.3"], ids=["plain-2.29", "web-message-2.40"])
def test_async_import_polls_the_task_then_reads_the_summary(
    version: str,
    dhis2: Callable[..., Dhis2Client],
    rsps: responses.RequestsMock,
    sleeps: list[float],
    data_value_set: dict[str, Any],
) -> None:
    tasks = f"{BASE}/api/system/tasks/DATAVALUE_IMPORT/YR1UxOUXmzT"
    rsps.post(URL, json=job_started("DATAVALUE_IMPORT", "YR1UxOUXmzT"))
    rsps.get(tasks, json=[])
    rsps.get(tasks, json=notifications("DATAVALUE_IMPORT", completed=False))
    rsps.get(tasks, json=notifications("DATAVALUE_IMPORT", completed=True))
    rsps.get(
        f"{BASE}/api/system/taskSummaries/DATAVALUE_IMPORT/YR1UxOUXmzT",
        json=import_summary(version, "WARNING", imported=1, ignored=1, conflicts=[conflict(version)]),
    )

    summary = dhis2(None).data_value_sets.post(data_value_set, async_=True)

    assert summary.status is ImportStatus.WARNING and summary.import_count.imported == 1
    post, *polls, report = sent(rsps)
    assert post.params == {"async": "true"} and post.json() == data_value_set
    assert [p.path for p in polls] == ["/dhis/api/system/tasks/DATAVALUE_IMPORT/YR1UxOUXmzT"] * 3
    assert report.path == "/dhis/api/system/taskSummaries/DATAVALUE_IMPORT/YR1UxOUXmzT"
    assert sleeps == [0.25, 0.25]


def test_async_job_that_leaves_no_summary_fails(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock, data_value_set: dict[str, Any]
) -> None:
    rsps.post(URL, json=job_started("DATAVALUE_IMPORT", "YR1UxOUXmzT"))
    rsps.get(
        f"{BASE}/api/system/tasks/DATAVALUE_IMPORT/YR1UxOUXmzT",
        json=notifications("DATAVALUE_IMPORT", completed=True, level="ERROR"),
    )
    rsps.get(f"{BASE}/api/system/taskSummaries/DATAVALUE_IMPORT/YR1UxOUXmzT", body="")

    with pytest.raises(JobFailed, match="left no report: ERROR Import done") as caught:
        dhis2(None).data_value_sets.post(data_value_set, async_=True)
    assert not caught.value.transient


def test_async_job_that_never_finishes_times_out(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock, data_value_set: dict[str, Any]
) -> None:
    rsps.post(URL, json=job_started("DATAVALUE_IMPORT", "YR1UxOUXmzT"))
    rsps.get(
        f"{BASE}/api/system/tasks/DATAVALUE_IMPORT/YR1UxOUXmzT",
        json=notifications("DATAVALUE_IMPORT", completed=False),
    )

    with pytest.raises(JobTimeout, match="DATAVALUE_IMPORT job YR1UxOUXmzT unfinished") as caught:
        dhis2(None, job_timeout=0.01).data_value_sets.post(data_value_set, async_=True)
    assert caught.value.transient and isinstance(caught.value, AdapterError)


def generated_values(count: int) -> Iterator[dict[str, Any]]:
    for n in range(count):
        yield {
            "dataElement": "f7n9E0hX8qk",
            "period": f"2024{n % 12 + 1:02d}",
            "orgUnit": f"OU{n // 12:09d}",
            "categoryOptionCombo": "HllvX50cXC0",
            "attributeOptionCombo": "HllvX50cXC0",
            "value": str(n),
        }


@pytest.mark.parametrize("as_generator", [False, True], ids=["data-value-set", "generator"])
def test_big_sets_are_chunked_and_the_results_merged(
    as_generator: bool, dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    chunks: list[Sent] = []

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        chunks.append(Sent.of(request))
        size = len(chunks[-1].json()["dataValues"])
        # Every chunk has its 6th value refused, like a 2.41 server would report it.
        status, body = data_value_reply(
            "2.41.1",
            "WARNING",
            imported=size - 1,
            ignored=1,
            conflicts=[conflict("2.41.1", indexes=[5])],
            rejected=[5],
        )
        return status, {"Content-Type": "application/json"}, json.dumps(body)

    rsps.add_callback(responses.POST, URL, callback=answer)
    values = generated_values(25_000)
    header = {"dataSet": "VEM58nY22sO", "completeDate": "2024-12-31"}
    payload: Any = values if as_generator else {**header, "dataValues": list(values)}

    summary = dhis2(None).data_value_sets.post(payload, chunk_size=10_000)

    assert [len(c.json()["dataValues"]) for c in chunks] == [10_000, 10_000, 5_000]
    assert chunks[1].json()["dataValues"][0]["value"] == "10000"
    if not as_generator:
        assert all({k: v for k, v in c.json().items() if k != "dataValues"} == header for c in chunks)
    assert summary.import_count.imported == 24_997 and summary.import_count.ignored == 3
    assert summary.status is ImportStatus.WARNING and summary.http_status == 409
    assert [c.indexes for c in summary.conflicts] == [[5], [10_005], [20_005]]
    assert summary.rejected_indexes == [5, 10_005, 20_005]


def test_small_set_is_one_post(dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock) -> None:
    rsps.post(URL, json=data_value_reply("2.40.3", imported=3)[1])

    summary = dhis2(None).data_value_sets.post(list(generated_values(3)))

    assert summary.import_count.imported == 3
    assert len(sent(rsps)[0].json()["dataValues"]) == 3
