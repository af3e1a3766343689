"""Transient failures retried, permanent ones not; what an AdapterError tells and hides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
import responses

from adapters.common import AdapterError, BaseUrlEscape
from adapters.dhis2 import Dhis2Client, ImportStatus
from tests.adapters.dhis2.conftest import PASSWORD, TOKEN, sent
from tests.adapters.dhis2.wire import BASE, conflict, data_value_reply

URL = f"{BASE}/api/dataValueSets"
PAYLOAD = {
    "dataSet": "VEM58nY22sO",
    "period": "201911",
    "orgUnit": "O6uvpzGd5pu",
    "dataValues": [{"dataElement": "BjDrgVrkBI3", "categoryOptionCombo": "oPcWGgS2Liz", "value": "1000"}],
}


@pytest.mark.parametrize(
    ("failure", "waits"),
    [
        ({"status": 503, "body": "<html>Service Unavailable</html>"}, [0.5]),
        ({"status": 502, "body": "Bad Gateway"}, [0.5]),
        ({"status": 504, "body": "Gateway Timeout"}, [0.5]),
        ({"status": 429, "body": "", "headers": {"Retry-After": "7"}}, [7.0]),
        ({"body": requests.ConnectionError("Connection reset by peer")}, [0.5]),
        ({"body": requests.ReadTimeout("read timed out")}, [0.5]),
    ],
    ids=["503", "502", "504", "429-retry-after", "connection-error", "read-timeout"],
)
def test_transient_failure_then_success(
    failure: dict[str, Any],
    waits: list[float],
    dhis2: Callable[..., Dhis2Client],
    rsps: responses.RequestsMock,
    sleeps: list[float],
) -> None:
    rsps.post(URL, **failure)
    rsps.post(URL, json=data_value_reply("2.40.3", imported=1)[1])

    summary = dhis2(None).data_value_sets.post(PAYLOAD)

    assert summary.import_count.imported == 1
    calls = sent(rsps)
    assert len(calls) == 2 and calls[0].body == calls[1].body
    assert sleeps == waits


def test_back_off_doubles_until_the_attempts_run_out(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(f"{BASE}/api/dataElements", status=503, body="maintenance")

    with pytest.raises(AdapterError) as caught:
        dhis2(None, retries=3, backoff=1.0).get("dataElements")

    assert sleeps == [1.0, 2.0, 4.0]
    assert len(sent(rsps)) == 4
    assert caught.value.status == 503 and caught.value.transient


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (
            400,
            {
                "httpStatus": "Bad Request",
                "httpStatusCode": 400,
                "status": "ERROR",
                "message": "Invalid JSON",
            },
        ),
        (
            401,
            {
                "httpStatus": "Unauthorized",
                "httpStatusCode": 401,
                "status": "ERROR",
                "message": "Unauthorized",
            },
        ),
        (
            500,
            {
                "httpStatus": "Internal Server Error",
                "httpStatusCode": 500,
                "status": "ERROR",
                "message": "NPE",
            },
        ),
    ],
    ids=["400", "401", "500"],
)
def test_permanent_failure_raises_at_once(
    status: int,
    body: dict[str, Any],
    dhis2: Callable[..., Dhis2Client],
    rsps: responses.RequestsMock,
    sleeps: list[float],
) -> None:
    rsps.post(URL, status=status, json=body)

    with pytest.raises(AdapterError) as caught:
        dhis2(None).data_value_sets.post(PAYLOAD)

    error = caught.value
    assert (error.system, error.method, error.status) == ("dhis2", "POST", status)
    assert error.url == URL and body["message"] in error.body_excerpt and error.elapsed >= 0
    assert not error.transient and len(sent(rsps)) == 1 and sleeps == []


def test_409_is_parsed_on_imports_and_never_retried(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    status, body = data_value_reply(
        "2.41.1", "ERROR", ignored=1, conflicts=[conflict("2.41.1")], rejected=[0]
    )
    rsps.post(URL, status=status, json=body)

    summary = dhis2(None).data_value_sets.post(PAYLOAD)

    assert summary.status is ImportStatus.ERROR and summary.rejected_indexes == [0]
    assert len(sent(rsps)) == 1 and sleeps == []


def test_409_on_a_generic_verb_raises(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    rsps.post(
        f"{BASE}/api/dataElements",
        status=409,
        json={
            "httpStatus": "Conflict",
            "httpStatusCode": 409,
            "status": "WARNING",
            "message": "One or more errors occurred, please see full details in import report.",
            "response": {
                "responseType": "ObjectReport",
                "errorReports": [
                    {
                        "errorCode": "E5003",
                        "message": "Property `name` with value `ANC 1st visit` already exists",
                    }
                ],
            },
        },
    )

    with pytest.raises(AdapterError, match="E5003") as caught:
        dhis2(None).create("dataElements", {"name": "ANC 1st visit"})
    assert caught.value.status == 409 and len(sent(rsps)) == 1


@pytest.mark.parametrize(
    "config", [{}, {"personal_access_token": TOKEN}], ids=["basic", "personal-access-token"]
)
def test_error_never_shows_credentials(
    config: dict[str, Any], dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    # A misbehaving proxy that echoes the request back, credentials included.
    rsps.get(
        f"{BASE}/api/me", status=401, body=f"Unauthorized: admin/{PASSWORD} Authorization: ApiToken {TOKEN}"
    )

    with pytest.raises(AdapterError) as caught:
        dhis2(None, **config).get("me", params={"fields": "id"})

    text = f"{caught.value} {caught.value.body_excerpt} {caught.value!r}"
    secret = TOKEN if config else PASSWORD
    assert secret not in text and "***" in text
    assert "api/me" in str(caught.value) and "401" in str(caught.value)


def test_transport_error_is_wrapped_and_chained(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/api/me", body=requests.ConnectionError("Name or service not known"))

    with pytest.raises(AdapterError, match="ConnectionError: Name or service not known") as caught:
        dhis2(None, retries=0).get("me")

    assert caught.value.status is None and caught.value.transient
    assert isinstance(caught.value.__cause__, requests.ConnectionError)


def test_reply_that_is_not_json(dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/api/me", body="<html>login</html>", content_type="text/html")

    with pytest.raises(AdapterError, match="not JSON") as caught:
        dhis2(None).get("me")
    assert isinstance(caught.value.__cause__, ValueError)


@pytest.mark.parametrize(
    "resource",
    [
        "https://evil.example.com/api/me",
        "/../admin/api/me",
        "//evil.example.com/dhis/api/me",
        "https://dhis.example.org/dhisx/api/me",
    ],
    ids=["other-host", "dot-dot", "scheme-relative", "sibling-path"],
)
def test_base_url_escape_refused(
    resource: str, dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    with pytest.raises(BaseUrlEscape, match="outside the base URL"):
        dhis2(None).get(resource)
    assert sent(rsps) == []


def test_job_endpoint_from_the_server_outside_the_base_is_refused(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    started = {
        "httpStatus": "OK",
        "httpStatusCode": 200,
        "status": "OK",
        "response": {
            "id": "YR1UxOUXmzT",
            "jobType": "DATAVALUE_IMPORT",
            "relativeNotifierEndpoint": "https://collector.example.net/api/system/tasks/DATAVALUE_IMPORT/YR1UxOUXmzT",
        },
    }
    rsps.post(URL, json=started)

    with pytest.raises(BaseUrlEscape):
        dhis2(None).data_value_sets.post(PAYLOAD, async_=True)
    assert len(sent(rsps)) == 1


TRACKED_ENTITY = {
    "trackedEntityType": "Q9GufDoplCL",
    "orgUnit": "O6uvpzGd5pu",
    "attributes": [{"attribute": "dIVt4l5vIOa", "value": "John"}],
}
DATA_ELEMENT = {
    "name": "ANC 1st visit",
    "shortName": "ANC 1",
    "valueType": "NUMBER",
    "domainType": "AGGREGATE",
}


@pytest.mark.parametrize(
    ("call", "with_uid", "attempts"),
    [
        ("tracker", {**TRACKED_ENTITY, "trackedEntity": "Kj6vYde4LHh"}, 2),
        ("tracker", TRACKED_ENTITY, 1),
        ("metadata", {**DATA_ELEMENT, "id": "fbfJHSPpUQD"}, 2),
        ("metadata", DATA_ELEMENT, 1),
    ],
    ids=["tracker-with-uid", "tracker-without-uid", "metadata-with-id", "metadata-without-id"],
)
def test_lost_reply_is_resent_only_when_objects_carry_their_ids(
    call: str,
    with_uid: dict[str, Any],
    attempts: int,
    dhis2: Callable[..., Dhis2Client],
    rsps: responses.RequestsMock,
) -> None:
    url = f"{BASE}/api/{call}"
    rsps.post(url, body=requests.ReadTimeout("read timed out"))
    if attempts == 2:
        rsps.post(url, status=500, body="stop here")
    client = dhis2("2.40.3" if call == "tracker" else None)

    with pytest.raises(AdapterError):
        if call == "tracker":
            client.tracker.import_({"trackedEntities": [with_uid]})
        else:
            client.metadata.import_({"dataElements": [with_uid]})
    assert len(sent(rsps, f"/{call}")) == attempts
