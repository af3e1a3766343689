"""Found by a sweep of /fhir with malformed input: each is a 400 OperationOutcome naming the
parameter, never a 500 or another API's error shape, and nothing of it is stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, LiveHub
from tests.terminology.conftest import ICD, READER

VS = f"{ICD}?fhir_vs"
FHIR_JSON = {"content-type": "application/fhir+json"}


@pytest.fixture
def hub(make_hub: Callable[..., LiveHub]) -> LiveHub:
    return make_hub()


def assert_outcome(r: httpx.Response, status: int, code: str, needle: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/fhir+json", r.text
    issue = r.json()["issue"][0]
    assert r.json()["resourceType"] == "OperationOutcome" and issue["code"] == code, r.text
    assert needle in issue["diagnostics"], issue
    return issue


@pytest.mark.parametrize(
    ("path", "query", "expression"),
    [
        ("ValueSet/$expand", {"url": VS, "offset": str(2**70)}, "offset"),
        ("ValueSet/$expand", {"url": VS, "count": str(2**64)}, "count"),
        ("ValueSet/$expand", {"url": VS, "offset": str(2**31)}, "offset"),
    ],
    ids=["offset-past-64-bits", "count-past-64-bits", "offset-past-fhir-integer"],
)
def test_an_integer_past_fhirs_range_is_400(shared_hub: LiveHub, path, query, expression):
    """A 500 before: the offset went into the expansion, which JSON could not write."""
    r = httpx.get(f"{shared_hub.url}/fhir/{path}", params=query, auth=READER)
    issue = assert_outcome(r, 400, "invalid", "must be a whole number from 0 to 2147483647")
    assert issue["expression"] == [expression]


def parameters(*parameter: dict[str, Any] | None) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(parameter)}


@pytest.mark.parametrize(
    ("path", "body", "expression", "needle"),
    [
        (
            "CodeSystem/$lookup",
            {"resourceType": "Parameters", "parameter": None},
            "code",
            "code is required",
        ),
        (
            "ValueSet/$expand",
            {"resourceType": "Parameters", "parameter": None},
            "url",
            "name the value set",
        ),
        (
            "CodeSystem/$lookup",
            parameters({"name": "coding", "valueBoolean": True}),
            "coding",
            "must be written system|code",
        ),
        (
            "CodeSystem/$subsumes",
            parameters({"name": "system", "valueUri": ICD}, {"name": "codingA", "valueInteger": 5}),
            "codingA",
            "must be written system|code",
        ),
        (
            "ConceptMap/$translate",
            parameters({"name": "coding", "part": []}),
            "coding",
            "must be written system|code",
        ),
    ],
    ids=["null", "null-expand", "boolean-coding", "integer-coding", "part-coding"],
)
def test_malformed_parameters_are_400(shared_hub: LiveHub, path, body, expression, needle):
    """A 500 before: ``"parameter": null`` was iterated, and a coding that is not text was split."""
    r = httpx.post(f"{shared_hub.url}/fhir/{path}", json=body, headers=FHIR_JSON, auth=READER)
    code = "required" if "required" in needle or "name the" in needle else "invalid"
    issue = assert_outcome(r, 400, code, needle)
    assert issue["expression"] == [expression]


@pytest.mark.parametrize("field", ["url", "version", "name", "title"])
def test_an_envelope_field_past_its_column_is_400_on_both_backends(hub: LiveHub, field):
    """PostgreSQL refused it (a problem+json, not FHIR), SQLite stored it."""
    resource = {
        "resourceType": "CodeSystem",
        "id": "long",
        "url": "http://x.example/cs",
        "version": "1",
        "name": "Long",
        "status": "active",
        "content": "complete",
        "concept": [{"code": "A"}],
    }
    resource[field] = "http://x.example/" + "x" * 2000 if field == "url" else "x" * 2000
    with httpx.Client(base_url=f"{hub.url}/fhir", auth=ADMIN, headers=FHIR_JSON) as fhir:
        r = fhir.put("/CodeSystem/long", json=resource)
        read = fhir.get("/CodeSystem/long")
    issue = assert_outcome(r, 400, "structure", "is longer than this server keeps")
    assert issue["expression"] == [f"CodeSystem.{field}"]
    assert_outcome(read, 404, "not-found", "long")


def test_a_search_for_a_nul_character_answers_in_fhir(hub: LiveHub, database_url: str):
    """PostgreSQL cannot search text for NUL: the hub's 400 was problem+json under /fhir."""
    r = httpx.get(f"{hub.url}/fhir/CodeSystem", params={"url": "a\x00b"}, auth=ADMIN)
    if database_url.startswith("postgresql"):
        assert_outcome(r, 400, "processing", "cannot be stored or searched for")
    else:
        assert r.status_code == 200 and r.json()["total"] == 0, r.text


LONG_CODE = "c" * 256  # the column keeps 255
LONG_DISPLAY = "d" * 1001  # the column keeps 1000


def mapping(code: str, target: dict[str, Any]) -> dict[str, Any]:
    group = {"source": "http://x.example/a", "target": "http://x.example/b"}
    return {"group": [group | {"element": [{"code": code, "target": [target | {"equivalence": "equal"}]}]}]}


LONG_ITEMS = [
    pytest.param("CodeSystem", {"concept": [{"code": "A"}, {"code": LONG_CODE}]}, id="code"),
    pytest.param("CodeSystem", {"concept": [{"code": "A", "display": LONG_DISPLAY}]}, id="display"),
    pytest.param("ConceptMap", mapping(LONG_CODE, {"code": "B"}), id="map-source-code"),
    pytest.param("ConceptMap", mapping("A", {"code": "B", "display": LONG_DISPLAY}), id="map-target-display"),
]
EXPRESSIONS = {"CodeSystem": "CodeSystem.concept", "ConceptMap": "ConceptMap.group.element"}


@pytest.mark.parametrize(("resource_type", "items"), LONG_ITEMS)
def test_a_concept_or_mapping_past_its_column_is_400_on_both_backends(hub: LiveHub, resource_type, items):
    """PostgreSQL refused it, SQLite stored it whole."""
    resource = {
        "resourceType": resource_type,
        "id": "long",
        "url": "http://x.example/long",
        "status": "active",
    }
    resource |= {"content": "complete"} if resource_type == "CodeSystem" else {}
    with httpx.Client(base_url=f"{hub.url}/fhir", auth=ADMIN, headers=FHIR_JSON) as fhir:
        r = fhir.put(f"/{resource_type}/long", json=resource | items)
        read = fhir.get(f"/{resource_type}/long")
    issue = assert_outcome(r, 400, "structure", "is longer than this server keeps")
    assert issue["expression"] == [EXPRESSIONS[resource_type]]
    assert_outcome(read, 404, "not-found", "long")
