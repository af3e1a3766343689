"""Read, search, create and update of CodeSystem, ValueSet and ConceptMap: one set of routes per
resource type, built from that type's service functions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from hub.api.deps import SessionDep
from hub.api.fhir.deps import EditorDep, ReaderDep
from hub.api.fhir.outcome import FhirResponse, request_body
from terminology import resources
from terminology.errors import InvalidParameter, InvalidResource

SEARCH_PARAMS = ("_id", "url", "version", "name", "title", "status")


@dataclass(frozen=True)
class ResourceType:
    name: str  # "CodeSystem"
    model: type[Any]
    save: Callable[..., tuple[Any, bool]]  # save(session, *, resource, resource_id=None, replace=True)
    render: Callable[[Session, Any], dict[str, Any]]
    summary: Callable[[Session, Any], dict[str, Any]]  # a search result (may leave out the big parts)


async def resource_body(request: Request) -> dict[str, Any]:
    try:
        data = orjson.loads(await request_body(request))
    except orjson.JSONDecodeError as exc:
        raise InvalidResource(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidResource("the body must be a FHIR resource (a JSON object)")
    return data


BodyDep = Annotated[dict[str, Any], Depends(resource_body)]


def _location(request: Request, kind: ResourceType, row: Any) -> str:
    return f"{request.base_url}fhir/{kind.name}/{row.resource_id}/_history/{row.revision}"


def add_routes(router: APIRouter, kind: ResourceType) -> None:
    """Register ``GET /{type}``, ``POST /{type}``, ``GET /{type}/{id}`` and ``PUT /{type}/{id}``."""

    @router.get(f"/{kind.name}", summary=f"Search {kind.name} resources", name=f"search-{kind.name}")
    def search(request: Request, _: ReaderDep, session: SessionDep) -> FhirResponse:
        query = request.query_params
        unknown = sorted(k for k in query if k not in SEARCH_PARAMS and not k.startswith("_"))
        if unknown:
            raise InvalidParameter(
                f"unknown search parameter {unknown[0]!r}; supported: {', '.join(SEARCH_PARAMS)}",
                expression=unknown[0],
            )
        rows = resources.search(
            session,
            kind.model,
            resource_id=query.get("_id"),
            url=query.get("url"),
            version=query.get("version"),
            name=query.get("name") or query.get("title"),
            status=query.get("status"),
        )
        base = f"{request.base_url}fhir/{kind.name}"
        return FhirResponse(
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(rows),
                "link": [{"relation": "self", "url": str(request.url)}],
                "entry": [
                    {
                        "fullUrl": f"{base}/{row.resource_id}",
                        "resource": kind.summary(session, row),
                        "search": {"mode": "match"},
                    }
                    for row in rows
                ],
            }
        )

    @router.get(f"/{kind.name}/{{resource_id}}", summary=f"Read a {kind.name}", name=f"read-{kind.name}")
    def read(resource_id: str, _: ReaderDep, session: SessionDep) -> FhirResponse:
        row = resources.get(session, kind.model, resource_id)
        return FhirResponse(kind.render(session, row), headers={"ETag": f'W/"{row.revision}"'})

    @router.post(
        f"/{kind.name}", summary=f"Create a {kind.name}", name=f"create-{kind.name}", status_code=201
    )
    def create(request: Request, _: EditorDep, body: BodyDep, session: SessionDep) -> FhirResponse:
        row, _created = kind.save(session, resource=body, replace=False)
        headers = {"Location": _location(request, kind, row), "ETag": f'W/"{row.revision}"'}
        return FhirResponse(kind.render(session, row), status_code=201, headers=headers)

    @router.put(
        f"/{kind.name}/{{resource_id}}",
        summary=f"Update (or create) a {kind.name}",
        name=f"update-{kind.name}",
    )
    def update(
        resource_id: str, request: Request, _: EditorDep, body: BodyDep, session: SessionDep
    ) -> FhirResponse:
        if body.get("id") != resource_id:
            raise InvalidResource(
                f"the resource's id {body.get('id')!r} must be the id in the URL, {resource_id!r}",
                expression=f"{kind.name}.id",
            )
        if not resources.FHIR_ID.match(resource_id):
            raise InvalidResource(f"{resource_id!r} is not a valid FHIR id", expression=f"{kind.name}.id")
        row, created = kind.save(session, resource=body, resource_id=resource_id)
        headers = {"Location": _location(request, kind, row), "ETag": f'W/"{row.revision}"'}
        return FhirResponse(kind.render(session, row), status_code=201 if created else 200, headers=headers)
