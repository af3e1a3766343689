"""FHIR responses: ``application/fhir+json`` bodies; every error under ``/fhir`` as an OperationOutcome."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from hub.errors import HubError, PayloadTooLarge
from terminology.errors import FhirError

FHIR_JSON = "application/fhir+json"
# the hub's own errors (authentication, lockout) in FHIR's IssueType vocabulary
HUB_ISSUES = {401: "login", 403: "forbidden", 413: "too-costly", 415: "not-supported", 429: "throttled"}


class FhirResponse(Response):
    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class HubFailure(FhirError):
    """A hub error raised under ``/fhir`` (e.g. bad credentials), kept with its own status."""

    def __init__(self, exc: HubError) -> None:
        super().__init__(exc.detail, headers=exc.headers)
        self.status = exc.status
        self.title = exc.title
        self.issue_code = HUB_ISSUES.get(exc.status, "processing")


async def request_body(request: Request) -> bytes:
    """The request's body; one over the hub's cap (``hub.api.body_limit``) is a 413 OperationOutcome."""
    try:
        return await request.body()
    except PayloadTooLarge as exc:
        raise HubFailure(exc) from exc


class FhirRoute(APIRoute):
    """A route under ``/fhir``: an error the app's handlers render for every API (a value the
    database refused, :func:`hub.api.problems.install`) is an OperationOutcome here too."""

    def error_response(self, exc: HubError, _request: Request) -> Response:
        failure = HubFailure(exc)
        return FhirResponse(operation_outcome(failure), status_code=failure.status, headers=failure.headers)


def operation_outcome(exc: FhirError) -> dict[str, Any]:
    issues = []
    for diagnostics, expression in exc.issues:
        issue: dict[str, Any] = {"severity": "error", "code": exc.issue_code, "diagnostics": diagnostics}
        if expression:
            issue["expression"] = [expression]
        issues.append(issue)
    return {"resourceType": "OperationOutcome", "issue": issues}


async def _render(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    return FhirResponse(operation_outcome(exc), status_code=exc.status, headers=exc.headers)


def install(app: FastAPI) -> None:
    """Render FhirError (and its subclasses) as OperationOutcome."""
    app.add_exception_handler(FhirError, _render)
