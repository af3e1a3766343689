"""ValueSet operations: $expand (with text search and paging) and $validate-code.

Both do their work in the thread pool: a search over a whole code system, or the first
expansion of a large value set, takes milliseconds of CPU that should not hold up the event loop.
"""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Request

from hub.api.fhir import render
from hub.api.fhir.codesystem import code_and_system
from hub.api.fhir.deps import operation_call
from hub.api.fhir.outcome import FhirResponse, FhirRoute
from hub.api.fhir.params import OperationInput, get_and_post
from terminology import expand
from terminology.catalog import Catalog
from terminology.errors import InvalidParameter

router = APIRouter(tags=["FHIR terminology"], route_class=FhirRoute)

EXPAND = (
    "url",
    "valueSet",
    "valueSetVersion",
    "filter",
    "offset",
    "count",
    "includeDesignations",
    "activeOnly",
    "displayLanguage",
    "excludeNested",
    "system-version",
    "date",
    "includeDefinition",
)
VALIDATE = (
    "url",
    "valueSet",
    "valueSetVersion",
    "code",
    "system",
    "systemVersion",
    "version",
    "display",
    "coding",
    "codeableConcept",
    "abstract",
    "date",
    "displayLanguage",
    "system-version",
)
MAX_COUNT = 1000


def system_versions(given: OperationInput) -> dict[str, str]:
    """``system-version`` parameters (``url|version``) as {url: version}."""
    found = {}
    for value in given.all("system-version"):
        url, bar, version = str(value).rpartition("|")
        if not bar or not url or not version:
            raise InvalidParameter(
                f"{given.operation}: system-version must be url|version, not {value!r}",
                expression="system-version",
            )
        found[url] = version
    return found


def definition(catalog: Catalog, given: OperationInput, resource_id: str | None) -> expand.Definition:
    inline = given.one("valueSet")
    if inline is not None and not isinstance(inline, dict):
        raise InvalidParameter(
            f"{given.operation}: valueSet must be a ValueSet resource", expression="valueSet"
        )
    return expand.definition(
        catalog,
        url=given.text("url"),
        version=given.text("valueSetVersion"),
        resource_id=resource_id,
        inline=inline,
        system_versions=system_versions(given),
    )


def _expand(given: OperationInput, catalog: Catalog, resource_id: str | None) -> FhirResponse:
    count = given.integer("count")
    if count is None:
        count = MAX_COUNT  # the total tells the client whether to page on with offset
    elif count > MAX_COUNT:
        raise InvalidParameter(f"$expand: count is at most {MAX_COUNT}; page with offset", expression="count")
    text = given.text("filter")
    result = expand.expand(
        catalog,
        definition(catalog, given, resource_id),
        text=text,
        offset=given.integer("offset") or 0,
        count=count,
        system_versions=system_versions(given),
    )
    designations = bool(given.boolean("includeDesignations"))
    return FhirResponse(render.expansion(result, text=text, count=count, designations=designations))


@get_and_post(router, "/ValueSet/$expand", summary="ValueSet $expand")
async def expand_type(request: Request) -> FhirResponse:
    given, catalog = await operation_call(request, "$expand", EXPAND)
    return await to_thread.run_sync(_expand, given, catalog, None)


@get_and_post(router, "/ValueSet/{resource_id}/$expand", summary="ValueSet $expand (instance)")
async def expand_instance(resource_id: str, request: Request) -> FhirResponse:
    given, catalog = await operation_call(request, "$expand", EXPAND)
    return await to_thread.run_sync(_expand, given, catalog, resource_id)


def _validate(given: OperationInput, catalog: Catalog, resource_id: str | None) -> FhirResponse:
    value_set = definition(catalog, given, resource_id)
    versions = system_versions(given)
    codings = given.concept_codings()
    if codings is not None:
        results = [
            expand.validate_in(
                catalog,
                value_set,
                code=c.get("code", ""),
                system=c.get("system"),
                version=c.get("version"),
                display=c.get("display"),
                system_versions=versions,
            )
            for c in codings
        ]
        return FhirResponse(render.validation(next((r for r in results if r.result), results[0])))
    code, system, version = code_and_system(given, code="code", coding="coding")
    result = expand.validate_in(
        catalog,
        value_set,
        code=code,
        system=system,
        version=version or given.text("systemVersion"),
        display=given.text("display"),
        system_versions=versions,
    )
    return FhirResponse(render.validation(result))


@get_and_post(router, "/ValueSet/$validate-code", summary="ValueSet $validate-code")
async def validate_code(request: Request) -> FhirResponse:
    given, catalog = await operation_call(request, "$validate-code", VALIDATE)
    return await to_thread.run_sync(_validate, given, catalog, None)


@get_and_post(router, "/ValueSet/{resource_id}/$validate-code", summary="ValueSet $validate-code (instance)")
async def validate_code_instance(resource_id: str, request: Request) -> FhirResponse:
    given, catalog = await operation_call(request, "$validate-code", VALIDATE)
    return await to_thread.run_sync(_validate, given, catalog, resource_id)
