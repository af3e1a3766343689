"""DHIS2-compatible metadata endpoints, served from the cache: lists, single objects, ``POST /api/metadata``.

Read::

    curl -u partner-1:secret 'http://localhost:5001/api/organisationUnits.json?filter=level:eq:4&fields=id,name,parent[id]'
    curl -u partner-1:secret 'http://localhost:5001/api/29/organisationUnits/DiszpKrYNg8'

Import (admins; ``identifier=CODE`` matches objects and references by code)::

    curl -u admin@example.org:secret -H 'Content-Type: application/json' \\
         --data-binary @metadata.json 'http://localhost:5001/api/metadata?importMode=VALIDATE'
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from hub.api.deps import AdminDep, RuntimeDep, SessionDep
from hub.dhis2.api.common import (
    ApiVersionDep,
    Dhis2ClientDep,
    api_path,
    dhis2_router,
    web_message_response,
    wraps_reports,
)
from hub.dhis2.metadata import geometry
from hub.dhis2.metadata.fields import LIST_DEFAULT, parse_fields, select_fields
from hub.dhis2.metadata.identifiers import Identifier
from hub.dhis2.metadata.importer import ImportStrategy, import_metadata
from hub.dhis2.metadata.query import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    QueryError,
    get_object,
    list_objects,
)
from hub.dhis2.metadata.schema import OBJECT_TYPES, ORG_UNITS, ObjectType
from hub.dhis2.metadata.stream import ExportError, read_export
from hub.errors import BadRequest, NotFound
from hub.gateway.router import read_body

router = dhis2_router(tags=["DHIS2 metadata"])

# Before 2.32 org units had featureType + a coordinates string instead of GeoJSON.
FIRST_GEOJSON_VERSION = 32

FieldsParam = Annotated[list[str], Query(alias="fields")]
FilterParam = Annotated[list[str], Query(alias="filter")]


def _to_wire(object_type: ObjectType, row: Any, version: int) -> dict[str, Any]:
    wire = object_type.to_wire(row)
    if object_type is ORG_UNITS and version < FIRST_GEOJSON_VERSION:
        wire |= geometry.to_legacy(wire.pop("geometry", None))
    return wire


def _fields(values: list[str], default: str) -> Any:
    try:
        return parse_fields(",".join(values) or default)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


def _pager(request: Request, *, page: int, page_size: int, total: int) -> dict[str, Any]:
    page_count = max(1, math.ceil(total / page_size))
    pager: dict[str, Any] = {"page": page, "pageCount": page_count, "total": total, "pageSize": page_size}
    if page < page_count:
        pager["nextPage"] = str(request.url.include_query_params(page=page + 1))
    if page > 1:
        pager["prevPage"] = str(request.url.include_query_params(page=page - 1))
    return pager


def _list_endpoint(object_type: ObjectType) -> Callable[..., dict[str, Any]]:
    def list_resource(
        request: Request,
        session: SessionDep,
        version: ApiVersionDep,
        _client: Dhis2ClientDep,
        fields: FieldsParam = [],  # noqa: B006 - FastAPI copies defaults per request
        filters: FilterParam = [],  # noqa: B006
        page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
        page_size: Annotated[int, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
        paging: bool = True,
        order: str | None = None,
        root_junction: Annotated[str, Query(alias="rootJunction", pattern="^(?i:and|or)$")] = "AND",
    ) -> dict[str, Any]:
        spec = _fields(fields, LIST_DEFAULT)
        try:
            result = list_objects(
                session,
                object_type=object_type,
                filters=filters,
                root_junction=root_junction,
                order=order,
                page=page,
                page_size=page_size if paging else None,
            )
        except QueryError as exc:
            raise BadRequest(str(exc)) from exc
        objects = [select_fields(_to_wire(object_type, row, version), spec) for row in result.rows]
        if not paging:
            return {object_type.key: objects}
        pager = _pager(request, page=page, page_size=page_size, total=result.total)
        return {"pager": pager, object_type.key: objects}

    list_resource.__name__ = f"list_{object_type.key}"
    return list_resource


def _get_endpoint(object_type: ObjectType) -> Callable[..., dict[str, Any]]:
    def get_resource(
        uid: str,
        session: SessionDep,
        version: ApiVersionDep,
        _client: Dhis2ClientDep,
        fields: FieldsParam = [],  # noqa: B006
    ) -> dict[str, Any]:
        spec = _fields(fields, ":all")
        row = get_object(session, object_type=object_type, uid=uid)
        if row is None:
            raise NotFound(f"{object_type.simple_name} with id {uid} could not be found.")
        return select_fields(_to_wire(object_type, row, version), spec)

    get_resource.__name__ = f"get_{object_type.key}"
    return get_resource


for _object_type in OBJECT_TYPES:
    router.add_api_route(api_path(f"/{_object_type.key}"), _list_endpoint(_object_type), methods=["GET"])
    router.add_api_route(
        api_path(f"/{_object_type.key}/{{uid:dhis2_id}}"), _get_endpoint(_object_type), methods=["GET"]
    )


class ImportMode(StrEnum):
    COMMIT = "COMMIT"
    VALIDATE = "VALIDATE"


class AtomicMode(StrEnum):
    ALL = "ALL"
    NONE = "NONE"


@router.post(api_path("/metadata"))
async def post_metadata(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    version: ApiVersionDep,
    _admin: AdminDep,
    import_mode: Annotated[ImportMode, Query(alias="importMode")] = ImportMode.COMMIT,
    import_strategy: Annotated[
        ImportStrategy, Query(alias="importStrategy")
    ] = ImportStrategy.CREATE_AND_UPDATE,
    atomic_mode: Annotated[AtomicMode, Query(alias="atomicMode")] = AtomicMode.ALL,
    identifier: Identifier = Identifier.UID,
) -> JSONResponse:
    """Import a DHIS2 metadata export into the cache (admins only); ``identifier=CODE|AUTO`` matches
    objects and references by code (AUTO: by id first)."""
    body = await read_body(request, runtime.settings.max_body_bytes)
    try:
        report = await run_in_threadpool(
            import_metadata,
            session,
            source=read_export(io.BytesIO(body)),
            import_strategy=import_strategy,
            atomic=atomic_mode == AtomicMode.ALL,
            dry_run=import_mode == ImportMode.VALIDATE,
            identifier=identifier,
        )
    except ExportError as exc:
        raise BadRequest(str(exc)) from exc
    if not wraps_reports(version):
        return JSONResponse(report.to_dict())
    if report.has_errors:
        message = "One or more errors occurred, please see full details in import report."
        return web_message_response(409, message, status=report.status, response=report.to_dict())
    return web_message_response(
        200, "Import was successful.", status=report.status, response=report.to_dict()
    )
