"""What every DHIS2-compatible route shares: paths, API versions, client auth and WebMessage errors.

Real DHIS2 clients call ``/api/dataElements``, ``/api/33/dataElements`` and
``/api/dataElements.json`` alike. :func:`api_path` turns one path into a single route
that matches all of them, through two URL convertors whose regexes may match nothing::

    router = dhis2_router()

    @router.get(api_path("/organisationUnits/{uid:dhis2_id}"))
    def org_unit(uid: str, version: ApiVersionDep, client: Dhis2ClientDep) -> dict: ...

Routes made by :func:`dhis2_router` answer every error (any :class:`~hub.errors.HubError`,
invalid query parameters, a value the database refuses) as a DHIS2 WebMessage instead of
problem+json::

    {"httpStatus": "Not Found", "httpStatusCode": 404, "status": "ERROR", "message": "..."}

An error raised with a DHIS2 ErrorCode (``Conflict(..., extra={"errorCode": "E2012"})``) names it
as ``errorCode`` from API 34, as DHIS2's IllegalQueryException answers do.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.convertors import Convertor, register_url_convertor

from hub.api.deps import RuntimeDep
from hub.auth.principal import Principal
from hub.dhis2.config import Dhis2Config, load
from hub.errors import Forbidden, HubError, NotFound
from hub.gateway.router import authenticate_client

FIRST_API_VERSION = 29
LAST_API_VERSION = 42
# From 2.38 import summaries and reports come wrapped in a WebMessage, with 409 on conflicts.
FIRST_WRAPPING_VERSION = 38
# From 2.34 an error DHIS2 raises with one of its ErrorCodes (E2012, ...) names it in the WebMessage.
FIRST_ERROR_CODE_VERSION = 34
FORMATS = ("json", "xml", "csv", "adx")
DHIS2_CHALLENGE = {"WWW-Authenticate": 'Basic realm="DHIS2"'}


class _ApiVersionConvertor(Convertor[int | None]):
    regex = r"(?:/\d{2})?"

    def convert(self, value: str) -> int | None:
        return int(value[1:]) if value else None

    def to_string(self, value: int | None) -> str:
        return f"/{value}" if value else ""


class _FormatConvertor(Convertor[str | None]):
    regex = rf"(?:\.(?:{'|'.join(FORMATS)}))?"

    def convert(self, value: str) -> str | None:
        return value[1:] if value else None

    def to_string(self, value: str | None) -> str:
        return f".{value}" if value else ""


class _IdConvertor(Convertor[str]):
    """An object id in a path: anything up to a dot, so ``/abc.json`` leaves ``.json`` to the format."""

    regex = r"[^/.]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("dhis2_api_version", _ApiVersionConvertor())
register_url_convertor("dhis2_format", _FormatConvertor())
register_url_convertor("dhis2_id", _IdConvertor())


def api_path(path: str) -> str:
    """One route path matching ``/api{path}``, ``/api/NN{path}`` and either with a ``.json``-style suffix."""
    return f"/api{{api_version:dhis2_api_version}}{path}{{format:dhis2_format}}"


# -- WebMessage -------------------------------------------------------------------------------------


def web_message(
    status_code: int,
    message: str,
    *,
    status: str | None = None,
    response: dict[str, Any] | None = None,
    error_code: str | None = None,
) -> dict[str, Any]:
    """A DHIS2 WebMessage body; ``status`` defaults to OK below 400 and ERROR from 400."""
    body: dict[str, Any] = {
        "httpStatus": HTTPStatus(status_code).phrase,
        "httpStatusCode": status_code,
        "status": status or ("OK" if status_code < 400 else "ERROR"),
        "message": message,
    }
    if error_code is not None:
        body["errorCode"] = error_code
    if response is not None:
        body["response"] = response
    return body


def web_message_response(
    status_code: int,
    message: str,
    *,
    status: str | None = None,
    response: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    error_code: str | None = None,
) -> JSONResponse:
    """A WebMessage as a JSON response with ``status_code``."""
    body = web_message(status_code, message, status=status, response=response, error_code=error_code)
    return JSONResponse(body, status_code=status_code, headers=headers)


def _requested_version(request: Request) -> int:
    """The API version of the call, for rendering an error (no check: that is :func:`api_version`'s)."""
    explicit: int | None = request.path_params.get("api_version")
    return explicit or load(request.app.state.runtime.settings.config).system.api_version


def _error_response(exc: HubError, request: Request) -> JSONResponse:
    """The error as a WebMessage; its DHIS2 ErrorCode (``extra["errorCode"]``) from API 34."""
    headers = DHIS2_CHALLENGE if exc.status == 401 else exc.headers
    code: str | None = exc.extra.get("errorCode")
    if code and _requested_version(request) < FIRST_ERROR_CODE_VERSION:
        code = None
    return web_message_response(exc.status, exc.detail, headers=headers, error_code=code)


class Dhis2Route(APIRoute):
    """An API route whose errors are DHIS2 WebMessages, as DHIS2 clients expect from ``/api``.

    The app's error handlers (:func:`hub.api.problems.install`) call these once the route's
    dependencies have exited, so an error rolls back what the request wrote before it."""

    def error_response(self, exc: HubError, request: Request) -> Response:
        return _error_response(exc, request)

    def invalid_response(self, exc: RequestValidationError, _request: Request) -> Response:
        problems = "; ".join(
            f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg', '')}" for e in exc.errors()
        )
        return web_message_response(400, f"Invalid request: {problems}")


def dhis2_router(**kwargs: Any) -> APIRouter:
    """An :class:`APIRouter` whose routes answer errors as WebMessages."""
    return APIRouter(route_class=Dhis2Route, **kwargs)


# -- dependencies -----------------------------------------------------------------------------------


def get_dhis2_config(runtime: RuntimeDep) -> Dhis2Config:
    return load(runtime.settings.config)


Dhis2ConfigDep = Annotated[Dhis2Config, Depends(get_dhis2_config)]


def api_version(request: Request, config: Dhis2ConfigDep) -> int:
    """The API version the call asks for: ``NN`` in ``/api/NN/...``, else the emulated server's own."""
    explicit: int | None = request.path_params.get("api_version")
    if explicit is None:
        return config.system.api_version
    if not FIRST_API_VERSION <= explicit <= LAST_API_VERSION:
        raise NotFound(f"API version {explicit} is not supported ({FIRST_API_VERSION}-{LAST_API_VERSION})")
    return explicit


ApiVersionDep = Annotated[int, Depends(api_version)]


def wraps_reports(version: int) -> bool:
    """True when import summaries/reports must come wrapped in a WebMessage (API 38 and later)."""
    return version >= FIRST_WRAPPING_VERSION


def response_format(request: Request) -> str:
    """``json``, ``xml``, ``csv`` or ``adx``: the path suffix, else ``json``."""
    return request.path_params.get("format") or "json"


ResponseFormatDep = Annotated[str, Depends(response_format)]


async def authenticate_dhis2_client(request: Request, runtime: RuntimeDep) -> Principal:
    """The calling client (Basic, bearer token or TLS certificate), as the channel gateway checks it."""
    return await authenticate_client(runtime, request)


Dhis2ClientDep = Annotated[Principal, Depends(authenticate_dhis2_client)]


def require_data_role(client: Dhis2ClientDep, config: Dhis2ConfigDep) -> Principal:
    """The calling client, if it holds one of the configured ``data_roles``."""
    if not client.roles & set(config.data_roles):
        raise Forbidden(
            f"client {client.name!r} may not write data: it needs one of the roles {config.data_roles}"
        )
    return client


Dhis2DataClientDep = Annotated[Principal, Depends(require_data_role)]
