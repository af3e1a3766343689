"""The shared HTTP layer: base-URL guard, retry rules, bodies, redirects, secrets."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError

from adapters.common import AdapterError, BaseUrlEscape, HttpClient, RetryPolicy, TokenAuth
from tests.adapters.sent import Sent

BASE = "https://map.example.org/gis"
SECRET = "s3cr3t-Pa55"


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def http(sleeps: list[float]) -> HttpClient:
    return HttpClient(
        "healthmap",
        BASE,
        auth=("hub", SECRET),
        secrets=[SECRET],
        retry=RetryPolicy(attempts=3),
        sleep=sleeps.append,
    )


def calls(rsps: responses.RequestsMock) -> list[Sent]:
    return [Sent.of(call.request) for call in rsps.calls]


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("api/facilities", f"{BASE}/api/facilities"),
        ("/api/facilities", f"{BASE}/api/facilities"),
        (f"{BASE}/api/facilities?page=2", f"{BASE}/api/facilities?page=2"),
        ("https://MAP.example.org:443/gis/api", "https://MAP.example.org:443/gis/api"),
        (BASE, BASE),
    ],
    ids=["relative", "rooted", "absolute-inside", "same-origin-spelled-differently", "base-itself"],
)
def test_urls_inside_the_base(path: str, url: str, http: HttpClient) -> None:
    assert http.url_for(path) == url


@pytest.mark.parametrize(
    "path",
    [
        "https://evil.example.com/gis/api",
        "http://map.example.org/gis/api",
        "https://map.example.org:8443/gis/api",
        "https://map.example.org/gisx/api",
        "https://map.example.org/other",
        "https://map.example.org@evil.example.com/gis/api",
        "//evil.example.com/gis/api",
        "/../admin",
        "api/../../admin",
        "%2e%2e/admin",
        "..\\admin",
        "https://map.example.org:port/gis/api",
    ],
    ids=[
        "other-host",
        "http-downgrade",
        "other-port",
        "sibling-prefix",
        "outside-path",
        "user-info-trick",
        "scheme-relative",
        "dot-dot",
        "nested-dot-dot",
        "encoded-dot-dot",
        "backslash",
        "bad-port",
    ],
)
def test_urls_outside_the_base_are_refused(path: str, http: HttpClient, rsps: responses.RequestsMock) -> None:
    with pytest.raises(BaseUrlEscape, match="outside the base URL"):
        http.send("GET", path)
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    ("base", "message"),
    [("ftp://map.example.org", "http"), ("https://hub:pw@map.example.org", "credentials")],
    ids=["scheme", "credentials-in-url"],
)
def test_bad_base_url(base: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HttpClient("healthmap", base)


@pytest.mark.parametrize(
    ("method", "failure", "idempotent", "attempts"),
    [
        ("GET", requests.ReadTimeout("read timed out"), None, 3),
        ("PUT", {"status": 502}, None, 3),
        ("DELETE", {"status": 504}, None, 3),
        ("POST", requests.ReadTimeout("read timed out"), None, 1),
        ("POST", requests.ConnectionError("Connection aborted."), None, 1),
        ("POST", {"status": 502}, None, 1),
        ("POST", {"status": 504}, None, 1),
        ("POST", {"status": 503}, None, 3),
        ("POST", {"status": 429}, None, 3),
        ("POST", requests.ConnectTimeout("connect timed out"), None, 3),
        (
            "POST",
            requests.ConnectionError(MaxRetryError(None, "/", NewConnectionError(None, "refused"))),
            None,
            3,
        ),
        ("POST", requests.ReadTimeout("read timed out"), True, 3),
        ("POST", {"status": 502}, True, 3),
        ("GET", {"status": 404}, None, 1),
    ],
    ids=[
        "get-timeout",
        "put-502",
        "delete-504",
        "post-read-timeout",
        "post-aborted",
        "post-502",
        "post-504",
        "post-503",
        "post-429",
        "post-connect-timeout",
        "post-refused",
        "idempotent-post-timeout",
        "idempotent-post-502",
        "get-404",
    ],
)
def test_which_failures_are_retried(
    method: str,
    failure: Exception | dict[str, int],
    idempotent: bool | None,
    attempts: int,
    http: HttpClient,
    rsps: responses.RequestsMock,
) -> None:
    kwargs = {"body": failure} if isinstance(failure, Exception) else failure
    rsps.add(method, f"{BASE}/api/facilities", **kwargs)

    with pytest.raises(AdapterError) as caught:
        http.send(method, "api/facilities", data=b'{"name": "Kailahun CHC"}', idempotent=idempotent)

    assert len(rsps.calls) == attempts
    assert caught.value.method == method
    if isinstance(failure, Exception):
        assert caught.value.status is None and caught.value.__cause__ is failure


def test_retry_after_as_a_date(http: HttpClient, rsps: responses.RequestsMock, sleeps: list[float]) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    rsps.get(f"{BASE}/api/facilities", status=429, headers={"Retry-After": later})
    rsps.get(f"{BASE}/api/facilities", json=[])

    http.send("GET", "api/facilities")

    [wait] = sleeps
    assert 25 < wait <= 30


def test_back_off_is_capped() -> None:
    policy = RetryPolicy(attempts=10, backoff=1.0, max_backoff=5.0)
    assert [policy.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert policy.delay(1, retry_after=600) == 5.0


def test_file_body_is_rewound_for_the_retry(http: HttpClient, rsps: responses.RequestsMock) -> None:
    bodies: list[bytes] = []

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        bodies.append(Sent.of(request).body)
        return (503 if len(bodies) == 1 else 200), {}, ""

    rsps.add_callback(responses.POST, f"{BASE}/api/facilities", callback=answer)
    file = io.BytesIO(b"header\nKailahun CHC,8.28,-10.57\n")
    file.seek(7)

    http.send("POST", "api/facilities", data=file)

    assert bodies == [b"Kailahun CHC,8.28,-10.57\n"] * 2


def test_generator_body_is_sent_once(http: HttpClient, rsps: responses.RequestsMock) -> None:
    rsps.put(f"{BASE}/api/facilities", status=503)

    with pytest.raises(AdapterError):
        http.send("PUT", "api/facilities", data=(line for line in [b"a\n", b"b\n"]))
    assert len(rsps.calls) == 1


def test_redirects_are_not_followed(http: HttpClient, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/api/facilities", status=302, headers={"Location": "https://login.example.org/sso"})

    with pytest.raises(AdapterError, match=re.escape("HTTP 302 to https://login.example.org/sso")):
        http.send("GET", "api/facilities")
    assert len(rsps.calls) == 1


def test_accepted_status_is_returned(http: HttpClient, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{BASE}/api/facilities", status=409, json={"conflict": "duplicate"})

    response = http.send("POST", "api/facilities", json={"name": "Kailahun CHC"}, accept={409})

    assert response.status_code == 409


def test_token_auth_and_default_headers(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/api/facilities", json=[])
    http = HttpClient(
        "healthmap", BASE, auth=TokenAuth("Bearer", SECRET), headers={"Accept": "application/json"}
    )

    http.send("GET", "api/facilities")

    [call] = calls(rsps)
    assert (
        call.headers["Authorization"] == f"Bearer {SECRET}" and call.headers["Accept"] == "application/json"
    )
    assert SECRET not in repr(TokenAuth("Bearer", SECRET))


def test_errors_and_logs_hold_no_secrets(
    http: HttpClient, rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    rsps.get(f"{BASE}/api/facilities", status=503, body=f"upstream said: password={SECRET}")

    with caplog.at_level(logging.DEBUG), pytest.raises(AdapterError) as caught:
        http.send("GET", "api/facilities", params={"api_key": SECRET, "page": 1})

    everything = f"{caught.value} {caught.value.url} {caught.value.body_excerpt} {caplog.text}"
    assert SECRET not in everything
    assert "api_key=***" in caught.value.url and "page=1" in caught.value.url
    assert caught.value.body_excerpt == "upstream said: password=***"


def test_excerpt_is_short(http: HttpClient, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/api/facilities", status=400, body="x" * 10_000)

    with pytest.raises(AdapterError) as caught:
        http.send("GET", "api/facilities")
    assert len(caught.value.body_excerpt) == 500
