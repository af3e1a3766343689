"""RFC 7807 problem+json for every error the admin and gateway APIs raise, and its description in the
OpenAPI document."""

from __future__ import annotations

import logging
from typing import Any

import requests
from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.common.errors import AdapterError
from hub.api.deps import check_admin_first, needs_admin
from hub.errors import HubError, Unstorable
from hub.logs import request_id

log = logging.getLogger("hub.api")

PROBLEM = "application/problem+json"


def problem(
    status: int, title: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    rid = request_id.get()
    if rid:
        body["request_id"] = rid
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def unstorable(exc: DataError) -> Unstorable:
    """The error to answer, in the API's own shape, when the database refused a value the API's
    validation let through (a NUL character in text, a number past a column's range): the caller's
    input, not a hub fault. The database's message may quote the value, so it goes to the log only
    as the error's class."""
    log.info("database refused a value", extra={"error": type(exc.orig).__name__})
    return Unstorable(
        "a value in the request cannot be stored or searched for (e.g. a NUL character in text, "
        "or a number out of range)"
    )


def _hub_problem(exc: HubError) -> JSONResponse:
    return problem(exc.status, exc.title, exc.detail, headers=exc.headers, **exc.extra)


def _in_route_shape(request: Request, exc: HubError) -> Response:
    """The error as the matched route answers errors: a route of another protocol (FHIR, DHIS2)
    renders it in that protocol's shape (its ``error_response``), any other as problem+json."""
    render = getattr(request.scope.get("route"), "error_response", None)
    return render(exc, request) if render is not None else _hub_problem(exc)


async def _refused(request: Request) -> JSONResponse | None:
    """The 401/403/429 an admin route's caller gets before any word on its body, if it gets one."""
    try:
        await to_thread.run_sync(check_admin_first, request)  # argon2 and the database: blocking
    except HubError as exc:
        return _hub_problem(exc)
    return None


class Problem(BaseModel):
    """An error as the admin API and the mediator API answer it (RFC 7807)."""

    model_config = ConfigDict(extra="allow")  # the extras some errors carry
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    request_id: str | None = Field(None, description="the request's X-Request-ID, as the hub's log has it")
    errors: list[dict[str, Any]] | None = Field(
        None, description="400 and 422: each value refused, with its loc, msg and type"
    )


# The errors an admin route may answer: every one authenticates; the others depend on what it takes.
AUTHENTICATION = {
    401: "No credentials, or wrong ones",
    403: "Authenticated, but not as an admin",
    429: "Locked out after repeated failed attempts; see Retry-After",
}
WITH_BODY = {
    400: "The body is not JSON, or a value in it is refused",
    413: "The body is over HUB_MAX_BODY_BYTES",
}
WITH_PATH_PARAMETERS = {404: "Not found"}
WRITING = {409: "In conflict with what is stored"}
INVALID = {422: "A parameter or a field is invalid"}  # replaces FastAPI's own description


def _documented_errors(path: str, method: str, operation: dict[str, Any]) -> dict[int, str]:
    errors = dict(AUTHENTICATION)
    if "requestBody" in operation:
        errors |= WITH_BODY
    if "{" in path:
        errors |= WITH_PATH_PARAMETERS
    if method != "get":
        errors |= WRITING
    if "422" in operation["responses"]:  # FastAPI's, for a route with parameters or a body
        errors |= INVALID
    return errors


def document(app: FastAPI, schema: dict[str, Any]) -> None:
    """Describe in the OpenAPI ``schema`` the problem+json answers of every route that needs an admin."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = Problem.model_json_schema()
    content = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for route in app.routes:
        if not (isinstance(route, APIRoute) and route.include_in_schema and needs_admin(route)):
            continue
        for method in map(str.lower, route.methods):
            operation = schema["paths"][route.path_format][method]
            errors = _documented_errors(route.path_format, method, operation)
            documented = {str(s): {"description": d, "content": content} for s, d in errors.items()}
            operation["responses"] = dict(sorted({**operation["responses"], **documented}.items()))


def _validation_detail(errors: list[Any]) -> tuple[int, str, list[dict[str, Any]]]:
    cleaned = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors
    ]
    if any(e["type"] == "json_invalid" for e in cleaned):
        return 400, "request body is not valid JSON", cleaned
    return 422, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in cleaned), cleaned


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json (:func:`document` describes
    them in the OpenAPI document)."""

    # Every handler here runs once the route's dependencies have exited: raised out of a route, an
    # error has rolled the request's session back, writes flushed before it included.
    @app.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError) -> Response:
        return _in_route_shape(request, exc)

    @app.exception_handler(AdapterError)
    async def _adapter(_request: Request, exc: AdapterError) -> JSONResponse:
        # an external system failed while the hub worked for the caller: the hub is a gateway here
        timed_out = isinstance(exc.__cause__, TimeoutError | requests.Timeout)
        return problem(504 if timed_out else 502, f"{exc.system} call failed", str(exc), system=exc.system)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        render = getattr(request.scope.get("route"), "invalid_response", None)
        if render is not None:
            return render(exc, request)
        status, detail, errors = _validation_detail(list(exc.errors()))
        if status == 400:  # not JSON: found while reading the body, before the route's dependencies
            refused = await _refused(request)
            if refused is not None:
                return refused
        title = "Malformed JSON" if status == 400 else "Invalid request"
        return problem(status, title, detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.__cause__ is not None:
            # FastAPI's 400 for a body it could not read (over the size cap, the client gone), raised
            # before the route's dependencies: the caller's credentials first, then the hub's own error
            refused = await _refused(request)
            if refused is not None:
                return refused
            if isinstance(exc.__cause__, HubError):
                return _in_route_shape(request, exc.__cause__)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return problem(exc.status_code, detail, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> Response:
        return _in_route_shape(request, unstorable(exc))

    @app.exception_handler(OperationalError)
    async def _database_unavailable(_request: Request, exc: OperationalError) -> JSONResponse:
        # the database is down, unreachable or busy (SQLite's "database is locked"): the request
        # may be sent again, so a 503 with Retry-After, as /ready says; the class only is logged,
        # as the message may quote the statement's values
        log.warning("database unavailable", extra={"error": type(exc.orig).__name__})
        return problem(
            503,
            "Database unavailable",
            "the hub's database is unavailable or busy; try again shortly",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc)
        rid = request_id.get()  # sent outside the request id layer: its header is added here
        headers = {"x-request-id": rid} if rid else None
        return problem(
            500, "Internal error", "an unexpected error occurred; see the hub log", headers=headers
        )
