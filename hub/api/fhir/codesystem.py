"""CodeSystem operations: $lookup, $validate-code and $subsumes, at type and instance level."""

from __future__ import annotations

from fastapi import APIRouter, Request

from hub.api.fhir import render
from hub.api.fhir.deps import operation_call
from hub.api.fhir.outcome import FhirResponse, FhirRoute
from hub.api.fhir.params import OperationInput, get_and_post
from terminology import operations
from terminology.catalog import Catalog, LoadedSystem
from terminology.errors import InvalidParameter, MissingParameter

router = APIRouter(tags=["FHIR terminology"], route_class=FhirRoute)

LOOKUP = ("code", "system", "version", "coding", "date", "displayLanguage", "property")
VALIDATE = (
    "url",
    "system",
    "codeSystem",
    "code",
    "version",
    "display",
    "coding",
    "codeableConcept",
    "date",
    "abstract",
    "displayLanguage",
)
SUBSUMES = ("codeA", "codeB", "system", "version", "codingA", "codingB")


def code_system(
    catalog: Catalog, given: OperationInput, *, resource_id: str | None, url: str | None, version: str | None
) -> LoadedSystem:
    """The code system named by the path's id or by ``url`` (and ``version``)."""
    if resource_id is not None:
        found = catalog.system_by_id(resource_id)
        if url is not None and url != found.url:
            raise InvalidParameter(
                f"{given.operation}: system {url} is not CodeSystem/{resource_id} ({found.url})",
                expression="system",
            )
        return catalog.system(found.url, version) if version is not None else found
    if url is None:
        raise MissingParameter(
            f"{given.operation}: system is required (or call it on CodeSystem/[id])", expression="system"
        )
    return catalog.system(url, version)


def code_and_system(
    given: OperationInput, *, code: str, coding: str, system: str = "system"
) -> tuple[str, str | None, str | None]:
    """(code, system url, version) from ``code`` + ``system`` + ``version`` or from a Coding."""
    as_coding = given.coding(coding)
    if as_coding is not None:
        if given.text(code) is not None:
            raise InvalidParameter(f"{given.operation}: give {code} or {coding}, not both", expression=coding)
        if not as_coding.get("code"):
            raise MissingParameter(f"{given.operation}: {coding} has no code", expression=f"{coding}.code")
        return (
            as_coding["code"],
            as_coding.get("system") or given.text(system),
            as_coding.get("version") or given.text("version"),
        )
    return given.required(code), given.text(system), given.text("version")


def _lookup(given: OperationInput, catalog: Catalog, resource_id: str | None) -> FhirResponse:
    code, url, version = code_and_system(given, code="code", coding="coding")
    system = code_system(catalog, given, resource_id=resource_id, url=url, version=version)
    return FhirResponse(render.lookup(operations.lookup(system, code, properties=given.all("property"))))


@get_and_post(router, "/CodeSystem/$lookup", summary="CodeSystem $lookup")
async def lookup(request: Request) -> FhirResponse:
    return _lookup(*await operation_call(request, "$lookup", LOOKUP), None)


@get_and_post(router, "/CodeSystem/{resource_id}/$lookup", summary="CodeSystem $lookup (instance)")
async def lookup_instance(resource_id: str, request: Request) -> FhirResponse:
    return _lookup(*await operation_call(request, "$lookup", LOOKUP), resource_id)


def _validate(given: OperationInput, catalog: Catalog, resource_id: str | None) -> FhirResponse:
    if given.one("codeSystem") is not None:
        raise InvalidParameter(
            "$validate-code: codeSystem (an inline CodeSystem) is not supported; store it first",
            expression="codeSystem",
        )
    url = given.text("url") or given.text("system")
    codings = given.concept_codings()
    if codings is not None:
        results = []
        for coding in codings:
            system = code_system(
                catalog,
                given,
                resource_id=resource_id,
                url=coding.get("system") or url,
                version=coding.get("version") or given.text("version"),
            )
            results.append(
                operations.validate_code(system, coding.get("code", ""), display=coding.get("display"))
            )
        return FhirResponse(render.validation(next((r for r in results if r.result), results[0])))
    code, coding_system, version = code_and_system(given, code="code", coding="coding", system="url")
    system = code_system(catalog, given, resource_id=resource_id, url=coding_system or url, version=version)
    return FhirResponse(
        render.validation(operations.validate_code(system, code, display=given.text("display")))
    )


@get_and_post(router, "/CodeSystem/$validate-code", summary="CodeSystem $validate-code")
async def validate_code(request: Request) -> FhirResponse:
    return _validate(*await operation_call(request, "$validate-code", VALIDATE), None)


@get_and_post(
    router, "/CodeSystem/{resource_id}/$validate-code", summary="CodeSystem $validate-code (instance)"
)
async def validate_code_instance(resource_id: str, request: Request) -> FhirResponse:
    return _validate(*await operation_call(request, "$validate-code", VALIDATE), resource_id)


def _subsumes(given: OperationInput, catalog: Catalog, resource_id: str | None) -> FhirResponse:
    code_a, url_a, version_a = code_and_system(given, code="codeA", coding="codingA")
    code_b, url_b, version_b = code_and_system(given, code="codeB", coding="codingB")
    if url_a and url_b and url_a != url_b:
        raise InvalidParameter(
            "$subsumes: codingA and codingB are from different code systems", expression="codingB"
        )
    system = code_system(
        catalog, given, resource_id=resource_id, url=url_a or url_b, version=version_a or version_b
    )
    return FhirResponse(render.subsumption(operations.subsumes(system, code_a, code_b)))


@get_and_post(router, "/CodeSystem/$subsumes", summary="CodeSystem $subsumes")
async def subsumes(request: Request) -> FhirResponse:
    return _subsumes(*await operation_call(request, "$subsumes", SUBSUMES), None)


@get_and_post(router, "/CodeSystem/{resource_id}/$subsumes", summary="CodeSystem $subsumes (instance)")
async def subsumes_instance(resource_id: str, request: Request) -> FhirResponse:
    return _subsumes(*await operation_call(request, "$subsumes", SUBSUMES), resource_id)
