"""RFC 7807 problem+json for every error the admin and gateway APIs raise."""

from __future__ import annotations

import logging
from typing import Any

import requests
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.common.errors import AdapterError
from hub.errors import HubError
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


def _validation_detail(errors: list[Any]) -> tuple[int, str, list[dict[str, Any]]]:
    cleaned = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors
    ]
    if any(e["type"] == "json_invalid" for e in cleaned):
        return 400, "request body is not valid JSON", cleaned
    return 422, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in cleaned), cleaned


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    @app.exception_handler(HubError)
    async def _hub_error(_request: Request, exc: HubError) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail, headers=exc.headers, **exc.extra)

    @app.exception_handler(AdapterError)
    async def _adapter(_request: Request, exc: AdapterError) -> JSONResponse:
        # an external system failed while the hub worked for the caller: the hub is a gateway here
        timed_out = isinstance(exc.__cause__, TimeoutError | requests.Timeout)
        return problem(504 if timed_out else 502, f"{exc.system} call failed", str(exc), system=exc.system)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        status, detail, errors = _validation_detail(list(exc.errors()))
        title = "Malformed JSON" if status == 400 else "Invalid request"
        return problem(status, title, detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return problem(exc.status_code, detail, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(DataError)
    async def _unstorable(_request: Request, exc: DataError) -> JSONResponse:
        # the database refused a value the API's validation let through (a NUL character in text,
        # a number past a column's range): the caller's input, not a hub fault. The database's
        # message may quote the value, so it goes to the log only as the error's class.
        log.info("database refused a value", extra={"error": type(exc.orig).__name__})
        return problem(
            400,
            "Invalid value",
            "a value in the request cannot be stored or searched for (e.g. a NUL character in text, "
            "or a number out of range)",
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc)
        return problem(500, "Internal error", "an unexpected error occurred; see the hub log")
