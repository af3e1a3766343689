"""Every bad request under /fhir gets a precise OperationOutcome: the status, FHIR's issue type,
the parameter at fault and a message that says what to do."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhirpy.base.exceptions import OperationOutcome as ClientOperationOutcome

from hub.settings import Settings
from tests.conftest import ADMIN, LiveHub
from tests.terminology.conftest import AT_READER, ICD, READER, fhir_client

VS = f"{ICD}?fhir_vs"
CASES = [
    # (path, query, status, issue type, expression, text in diagnostics)
    (
        "CodeSystem/$lookup",
        {"system": ICD, "code": "J18.99"},
        404,
        "not-found",
        "code",
        "code 'J18.99' is not in",
    ),
    (
        "CodeSystem/$lookup",
        {"system": "http://x.example/cs", "code": "A"},
        404,
        "not-found",
        "system",
        "not known",
    ),
    (
        "CodeSystem/$lookup",
        {"system": ICD, "version": "2016", "code": "J18.9"},
        404,
        "not-found",
        "version",
        "no version '2016' on this server (known: '2019')",
    ),
    ("CodeSystem/$lookup", {"system": ICD}, 400, "required", "code", "code is required"),
    ("CodeSystem/$lookup", {"code": "J18.9"}, 400, "required", "system", "system is required"),
    (
        "CodeSystem/$lookup",
        {"sytem": ICD, "code": "J18.9"},
        400,
        "invalid",
        "sytem",
        "unknown parameter 'sytem'",
    ),
    (
        "CodeSystem/$lookup",
        {"system": ICD, "code": "J18.9", "coding": f"{ICD}|J18.9"},
        400,
        "invalid",
        "coding",
        "give code or coding, not both",
    ),
    ("CodeSystem/$lookup", {"coding": "J18.9"}, 400, "invalid", "coding", "must be written system|code"),
    (
        "CodeSystem/$lookup",
        [("system", ICD), ("code", "A00"), ("code", "A01")],
        400,
        "invalid",
        "code",
        "given 2 times",
    ),
    ("CodeSystem/nope/$lookup", {"code": "A00"}, 404, "not-found", None, "no CodeSystem with id 'nope'"),
    (
        "CodeSystem/$subsumes",
        {"system": ICD, "codeA": "X", "codeB": "Q99.99"},
        404,
        "not-found",
        "codeB",
        "Q99.99",
    ),
    (
        "CodeSystem/$validate-code",
        {"url": "http://x.example/cs", "code": "A"},
        404,
        "not-found",
        "system",
        "not known",
    ),
    ("ValueSet/$expand", {"url": VS, "count": "abc"}, 400, "invalid", "count", "whole number"),
    ("ValueSet/$expand", {"url": VS, "count": "5000"}, 400, "invalid", "count", "at most 1000"),
    ("ValueSet/$expand", {"url": VS, "offset": "-1"}, 400, "invalid", "offset", "whole number"),
    (
        "ValueSet/$expand",
        {"url": "http://x.example/vs"},
        404,
        "not-found",
        "url",
        "value set http://x.example/vs",
    ),
    ("ValueSet/$expand", {"url": "http://x.example/cs?fhir_vs"}, 404, "not-found", "system", "code system"),
    (
        "ValueSet/$expand",
        {"url": VS, "system-version": "2019"},
        400,
        "invalid",
        "system-version",
        "url|version",
    ),
    (
        "ValueSet/$expand",
        {"url": f"{ICD}?fhir_vs=isa/J99.99"},
        404,
        "not-found",
        "ValueSet.compose.include[0].filter[0].value",
        "J99.99",
    ),
    ("ValueSet/$expand", {"filter": "x"}, 400, "required", "url", "name the value set"),
    ("ValueSet/icd-10-codes/$expand", {"valueSetVersion": "2016"}, 200, None, None, None),
    (
        "ValueSet/$expand",
        {"url": "http://hub.terminology.local/fhir/ValueSet/icd-10-codes", "valueSetVersion": "2016"},
        404,
        "not-found",
        "valueSetVersion",
        "known: '2019'",
    ),
    ("ValueSet/$validate-code", {"url": VS, "code": "A00"}, 200, None, None, None),
    (
        "ConceptMap/$translate",
        {"system": ICD, "code": "A00", "reverse": "maybe"},
        400,
        "invalid",
        "reverse",
        "true or false",
    ),
    (
        "ConceptMap/$translate",
        {"url": "http://x.example/cm", "system": ICD, "code": "A00"},
        404,
        "not-found",
        "url",
        "concept map http://x.example/cm",
    ),
    ("ConceptMap/$translate", {"code": "A00"}, 400, "required", "system", "system is required"),
    (
        "ConceptMap/$translate",
        {"system": ICD, "code": "A00", "dependency": "x"},
        400,
        "not-supported",
        "dependency",
        "not supported",
    ),
    ("CodeSystem/nope", {}, 404, "not-found", None, "no CodeSystem with id 'nope'"),
    ("CodeSystem", {"publisher": "WHO"}, 400, "invalid", "publisher", "unknown search parameter"),
    ("metadata", {"mode": "everything"}, 400, "invalid", "mode", "mode must be"),
]


def outcome(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/fhir+json", response.text
    body = response.json()
    OperationOutcome.model_validate(body)
    return body["issue"][0]


@pytest.mark.parametrize(
    ("path", "query", "status", "code", "expression", "text"),
    CASES,
    ids=[
        f"{c[0]}-{'-'.join(k for k, _ in (c[1].items() if isinstance(c[1], dict) else c[1]))}-{c[2]}"
        for c in CASES
    ],
)
def test_bad_requests(
    shared_hub: LiveHub,
    path: str,
    query: Any,
    status: int,
    code: str | None,
    expression: str | None,
    text: str | None,
) -> None:
    response = httpx.get(f"{shared_hub.url}/fhir/{path}", params=query, auth=READER)
    assert response.status_code == status, response.text
    if code is None:
        return
    issue = outcome(response)
    assert (issue["severity"], issue["code"]) == ("error", code)
    assert issue.get("expression") == ([expression] if expression else None)
    assert text in issue["diagnostics"]


def post(
    hub: LiveHub,
    path: str,
    body: Any,
    content_type: str = "application/fhir+json",
    auth: tuple[str, str] = READER,
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        f"{hub.url}/fhir/{path}", content=content, headers={"content-type": content_type}, auth=auth
    )


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "text"),
    [
        (b"system=x", "application/x-www-form-urlencoded", 415, "not-supported", "as application/fhir+json"),
        (b"{not json", "application/fhir+json", 400, "invalid", "not valid JSON"),
        (
            {"resourceType": "Patient"},
            "application/fhir+json",
            400,
            "invalid",
            "must be a Parameters resource",
        ),
        (
            {"resourceType": "Parameters", "parameter": [{"name": "code", "valueFoo": "A00"}]},
            "application/json",
            400,
            "invalid",
            "Parameters.parameter.0.valueFoo",
        ),
        (
            b" " * (Settings.model_fields["max_body_bytes"].default + 1),
            "application/fhir+json",
            413,
            "too-costly",
            "over the hub API's limit",
        ),
    ],
    ids=["form", "broken-json", "not-parameters", "invalid-parameters", "over-the-cap"],
)
def test_bad_post_bodies(
    shared_hub: LiveHub, body: Any, content_type: str, status: int, code: str, text: str
) -> None:
    response = post(shared_hub, "CodeSystem/$lookup", body, content_type)
    issue = outcome(response)
    assert response.status_code == status and issue["code"] == code
    assert text in issue["diagnostics"] or issue["expression"] == [text]


def test_an_inline_value_set_with_an_unsupported_filter(shared_hub: LiveHub) -> None:
    inline = {
        "resourceType": "ValueSet",
        "status": "active",
        "compose": {
            "include": [
                {"system": ICD, "filter": [{"property": "concept", "op": "generalizes", "value": "J18.9"}]}
            ]
        },
    }
    response = post(
        shared_hub,
        "ValueSet/$expand",
        {"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": inline}]},
    )
    assert response.status_code == 400
    issue = outcome(response)
    assert issue["code"] == "not-supported" and issue["expression"] == [
        "ValueSet.compose.include[0].filter[0].op"
    ]


def test_the_fhir_client_sees_the_outcome(shared_hub: LiveHub) -> None:
    with pytest.raises(ClientOperationOutcome) as caught:
        fhir_client(shared_hub, READER).execute(
            "ValueSet/$expand", method="get", params={"url": VS, "count": "x"}
        )
    assert caught.value.resource["issue"][0]["expression"] == ["count"]


@pytest.mark.parametrize(
    ("auth", "status", "code"),
    [
        (None, 401, "login"),
        (("terminology-reader", "wrong-password"), 401, "login"),
        (("admin@hub.test", "wrong-password"), 401, "login"),
    ],
    ids=["none", "wrong-client-password", "wrong-user-password"],
)
def test_callers_must_authenticate(shared_hub: LiveHub, auth: Any, status: int, code: str) -> None:
    response = httpx.get(
        f"{shared_hub.url}/fhir/CodeSystem/$lookup", params={"system": ICD, "code": "A00"}, auth=auth
    )
    assert response.status_code == status and outcome(response)["code"] == code
    assert response.headers["www-authenticate"].startswith("Basic")


def test_only_admin_users_change_terminology(shared_hub: LiveHub) -> None:
    resource = {
        "resourceType": "CodeSystem",
        "url": "http://x.example/cs",
        "status": "active",
        "content": "complete",
    }
    denied = post(shared_hub, "CodeSystem", resource, auth=READER)
    assert denied.status_code == 403 and outcome(denied)["code"] == "forbidden"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "text"),
    [
        (
            "POST",
            "CodeSystem",
            {
                "resourceType": "CodeSystem",
                "status": "active",
                "content": "complete",
                "url": "http://x.example/cs",
                "concept": [{"display": "no code"}],
            },
            400,
            "structure",
            "CodeSystem.concept.0.code",
        ),
        (
            "POST",
            "CodeSystem",
            {
                "resourceType": "CodeSystem",
                "status": "active",
                "content": "complete",
                "url": ICD,
                "version": "2019",
            },
            409,
            "duplicate",
            "already exists as id 'icd-10'",
        ),
        (
            "POST",
            "ValueSet",
            {"resourceType": "ValueSet", "status": "active"},
            400,
            "structure",
            "ValueSet.url is required",
        ),
        (
            "PUT",
            "ValueSet/mine",
            {"resourceType": "ValueSet", "id": "other", "url": "http://x.example/vs", "status": "active"},
            400,
            "structure",
            "must be the id in the URL",
        ),
        ("POST", "ConceptMap", {"resourceType": "CodeSystem"}, 400, "structure", "expected a ConceptMap"),
        (
            "POST",
            "ConceptMap",
            {
                "resourceType": "ConceptMap",
                "url": "http://x.example/cm",
                "status": "active",
                "group": [
                    {
                        "source": "s",
                        "target": "t",
                        "element": [{"code": "a", "target": [{"code": "b", "equivalence": "similar"}]}],
                    }
                ],
            },
            400,
            "structure",
            "equivalence 'similar' is not one of",
        ),
    ],
    ids=[
        "invalid-code-system",
        "duplicate",
        "value-set-without-url",
        "id-mismatch",
        "wrong-type",
        "bad-equivalence",
    ],
)
def test_bad_resources_are_refused(
    shared_hub: LiveHub, method: str, path: str, body: Any, status: int, code: str, text: str
) -> None:
    response = httpx.request(method, f"{shared_hub.url}/fhir/{path}", json=body, auth=ADMIN)
    assert response.status_code == status, response.text
    issues = response.json()["issue"]
    assert {i["code"] for i in issues} == {code}
    assert any(text in i["diagnostics"] or text in i.get("expression", [""])[0] for i in issues)


def test_a_client_id_with_an_at_sign_signs_in_as_a_client(shared_hub: LiveHub) -> None:
    url = f"{shared_hub.url}/fhir/CodeSystem"
    assert httpx.get(url, auth=AT_READER).status_code == 200
    wrong = httpx.get(url, auth=(AT_READER[0], "wrong-password-9"))
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"]
