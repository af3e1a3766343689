"""Found by a sweep of the DHIS2-compatible metadata routes with malformed input: each is an answer
in DHIS2's own shape (a WebMessage or an ImportReport), never a 500, and nothing of it is stored."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.dhis2.metadata.conftest import CLIENT

ORG_UNIT = {"id": "NewOrgUnit1", "name": "New", "openingDate": "2020-01-01", "parent": {"id": "DiszpKrYNg8"}}


@pytest.fixture
def api(dhis2_hub: Any) -> httpx.Client:
    return dhis2_hub.client(*CLIENT)


def web_message(response: httpx.Response, status: int, needle: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert (body["httpStatusCode"], body["status"]) == (status, "ERROR") and needle in body["message"], body


def test_a_filter_on_last_updated_reads_the_cache(api: httpx.Client) -> None:
    """A 500 before, for any value: the column's type named no Python type to read the value as."""
    since = api.get(
        "/api/organisationUnits.json", params={"filter": "lastUpdated:gt:2000-01-01", "paging": "false"}
    )
    later = api.get("/api/organisationUnits.json", params={"filter": "lastUpdated:gt:2999-01-01T00:00:00"})
    assert since.status_code == 200 and since.json()["organisationUnits"], since.text
    assert later.status_code == 200 and later.json()["organisationUnits"] == [], later.text


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"filter": "lastUpdated:gt:2024-01-01T25:00"}, "does not fit property `last_updated`"),
        ({"filter": f"level:gt:{2**70}"}, "does not fit property `level`"),
        ({"filter": f"level:in:[1,{2**64}]"}, "does not fit property `level`"),
        ({"page": str(2**70)}, "query.page: Input should be less than or equal to"),
    ],
    ids=["bad-timestamp", "level-past-64-bits", "in-past-64-bits", "page-past-64-bits"],
)
def test_a_value_no_column_holds_is_a_400_web_message(
    api: httpx.Client, params: dict[str, str], needle: str
) -> None:
    """A 500 before: the integer reached the database driver (the page as its offset)."""
    web_message(api.get("/api/organisationUnits.json", params=params), 400, needle)


def import_errors(dhis2_hub: Any, org_unit: dict[str, Any]) -> list[dict[str, Any]]:
    """The error reports of importing ``org_unit``, which must be refused; it is then not stored."""
    with dhis2_hub.admin() as admin:
        response = admin.post("/api/metadata", json={"organisationUnits": [org_unit]})
    with dhis2_hub.client(*CLIENT) as api:
        stored = api.get(f"/api/organisationUnits/{org_unit['id']}")
    assert response.status_code == 409, response.text
    report = response.json()["response"]
    assert report["responseType"] == "ImportReport" and report["stats"]["ignored"] == 1, report
    assert stored.status_code == 404, stored.text
    [object_report] = report["typeReports"][0]["objectReports"]
    return object_report["errorReports"]


@pytest.mark.parametrize(
    ("changes", "code", "prop"),
    [
        ({"name": ["New"]}, "E4030", "name"),
        ({"shortName": {"x": 1}}, "E4030", "shortName"),
        ({"featureType": "POINT", "coordinates": ["[1,2]"]}, "E4030", "geometry"),
        ({"openingDate": 20200101}, "E4030", "geometry"),
        ({"name": "x" * 231}, "E4001", "name"),
        ({"code": "c" * 300}, "E4001", "code"),
    ],
    ids=[
        "name-array",
        "short-name-object",
        "coordinates-array",
        "date-number",
        "name-too-long",
        "code-too-long",
    ],
)
def test_a_property_of_the_wrong_type_or_length_is_an_error_report(
    dhis2_hub: Any, changes: dict[str, Any], code: str, prop: str
) -> None:
    """A 500 before (the database driver got an array or a dict; a number reached a date parser),
    or a text past its column stored on SQLite and a 400 problem+json on PostgreSQL."""
    [error] = import_errors(dhis2_hub, {**ORG_UNIT, **changes})
    assert (error["errorCode"], error["errorProperty"]) == (code, prop), error


def test_legacy_coordinates_nested_past_the_decoders_depth_are_an_error_report(dhis2_hub: Any) -> None:
    """A 500 before: the JSON decoder's RecursionError."""
    nested = "[" * 100_000 + "]" * 100_000
    [error] = import_errors(dhis2_hub, {**ORG_UNIT, "featureType": "POLYGON", "coordinates": nested})
    assert error["errorCode"] == "E4030" and "not a JSON array" in error["message"], error


def test_a_number_for_a_text_property_is_its_text(dhis2_hub: Any, api: httpx.Client) -> None:
    with dhis2_hub.admin() as admin:
        response = admin.post("/api/metadata", json={"organisationUnits": [{**ORG_UNIT, "code": 1234}]})
    assert response.status_code == 200, response.text
    assert api.get("/api/organisationUnits/NewOrgUnit1").json()["code"] == "1234"


def post_metadata(dhis2_hub: Any, document: dict[str, Any]) -> httpx.Response:
    """``document`` as json.dumps writes it: a character past ASCII as its escape, a lone surrogate too."""
    with dhis2_hub.admin() as admin:
        return admin.post("/api/metadata", content=json.dumps(document).encode(),
                          headers={"Content-Type": "application/json"})  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "escape"),
    [
        ({"name": "New \ud800"}, "\\ud800"),
        ({"name": "\ud800\u00e9"}, "\\ud800"),
        ({"name": "New \udc00"}, "\\udc00"),
        ({"description\ud800": "x"}, "\\ud800"),
    ],
    ids=["lone-high-in-name", "high-then-other-escape-in-name", "lone-low-in-name", "lone-high-in-key"],
)
def test_a_lone_surrogate_escape_is_invalid_json(
    dhis2_hub: Any, api: httpx.Client, changes: dict[str, Any], escape: str
) -> None:
    """Stored altered before, with a 200: ijson's C backend (yajl) makes a lone high surrogate
    escape "?" ("New ?"), joins one to the escape after it (U+100E9) and a key so altered was
    dropped as unknown; a lone low one was a 500 (yajl wrote it as UTF-8 that cannot decode)."""
    response = post_metadata(dhis2_hub, {"organisationUnits": [{**ORG_UNIT, **changes}]})
    web_message(
        response, 400, f"the metadata export is not valid JSON: lone surrogate escape {escape} at byte"
    )
    assert api.get("/api/organisationUnits/NewOrgUnit1").status_code == 404


def test_an_escaped_surrogate_pair_imports_as_its_character(dhis2_hub: Any, api: httpx.Client) -> None:
    """Only a lone surrogate is refused: a pair's escapes are the character they spell."""
    response = post_metadata(dhis2_hub, {"organisationUnits": [{**ORG_UNIT, "name": "New \U0001f600"}]})
    assert response.status_code == 200, response.text
    assert api.get("/api/organisationUnits/NewOrgUnit1").json()["name"] == "New \U0001f600"


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"\xff", "invalid bytes in UTF8 string"),  # the parser refuses it itself
        (b"\xed\xa0\x80", "not UTF-8 text"),  # a surrogate encoded as UTF-8: a 500 before
        (b"\xc0\xaf", "not UTF-8 text"),  # an overlong encoding of "/": a 500 before
    ],
    ids=["invalid-byte", "encoded-surrogate", "overlong"],
)
def test_a_body_that_is_not_utf8_is_a_400(dhis2_hub: Any, api: httpx.Client, raw: bytes, needle: str) -> None:
    """yajl passes some byte sequences that are not UTF-8, which Python's decoder then refused:
    that UnicodeDecodeError escaped the export reader."""
    body = json.dumps({"organisationUnits": [{**ORG_UNIT, "name": "New ?"}]}).encode().replace(b"?", raw)
    with dhis2_hub.admin() as admin:
        response = admin.post("/api/metadata", content=body, headers={"Content-Type": "application/json"})
    web_message(response, 400, needle)
    assert api.get("/api/organisationUnits/NewOrgUnit1").status_code == 404
