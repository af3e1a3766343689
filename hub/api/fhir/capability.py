"""``GET /fhir/metadata``: the CapabilityStatement of the terminology API, or with
``mode=terminology`` the TerminologyCapabilities listing the code systems loaded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from hub.api.fhir.crud import SEARCH_PARAMS
from hub.api.fhir.deps import CatalogDep
from hub.api.fhir.outcome import FhirResponse, FhirRoute
from hub.api.openapi import PUBLIC
from terminology.catalog import Catalog
from terminology.errors import InvalidParameter

router = APIRouter(tags=["FHIR terminology"], route_class=FhirRoute)

OPERATIONS = {
    "CodeSystem": ("lookup", "validate-code", "subsumes"),
    "ValueSet": ("expand", "validate-code"),
    "ConceptMap": ("translate",),
}


def _resource(name: str, operations: tuple[str, ...]) -> dict[str, Any]:
    return {
        "type": name,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{name}",
        "interaction": [{"code": code} for code in ("read", "search-type", "create", "update")],
        "versioning": "versioned-update",
        "searchParam": [
            {
                "name": param,
                "type": "token" if param in ("_id", "status") else "uri" if param == "url" else "string",
            }
            for param in SEARCH_PARAMS
        ],
        "operation": [
            {"name": op, "definition": f"http://hl7.org/fhir/OperationDefinition/{name}-{op}"}
            for op in operations
        ],
    }


def capability_statement(base_url: str, version: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": datetime.now(UTC).date().isoformat(),
        "kind": "instance",
        "instantiates": ["http://hl7.org/fhir/CapabilityStatement/terminology-server"],
        "software": {"name": "Health interoperability hub", "version": version},
        "implementation": {"description": "Terminology service of the hub", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {"description": "HTTP Basic, bearer tokens or TLS client certificates"},
                "resource": [_resource(name, ops) for name, ops in OPERATIONS.items()],
            }
        ],
    }


def terminology_capabilities(catalog: Catalog) -> dict[str, Any]:
    by_url: dict[str, list[str]] = {}
    for system in catalog.systems():
        by_url.setdefault(system.url, []).append(system.version)
    return {
        "resourceType": "TerminologyCapabilities",
        "status": "active",
        "date": datetime.now(UTC).date().isoformat(),
        "kind": "instance",
        "codeSystem": [
            {"uri": url, "version": [{"code": v} for v in versions if v]}
            for url, versions in sorted(by_url.items())
        ],
        "expansion": {"paging": True, "textFilter": "words in any order, word prefixes, one or two typos"},
        "translation": {"needsMap": False},
    }


@router.get(
    "/metadata",
    summary="CapabilityStatement (or TerminologyCapabilities with mode=terminology)",
    openapi_extra=PUBLIC,
)
def metadata(request: Request, catalog: CatalogDep, mode: str | None = None) -> FhirResponse:
    if mode == "terminology":
        return FhirResponse(terminology_capabilities(catalog))
    if mode not in (None, "full", "normative"):
        raise InvalidParameter(
            f"mode must be full, normative or terminology, not {mode!r}", expression="mode"
        )
    return FhirResponse(capability_statement(f"{request.base_url}fhir", request.app.version))
