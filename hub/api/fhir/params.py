"""Operation parameters from a GET query string or a POST ``Parameters`` resource, checked strictly:
an unknown name, a repeated single value or a malformed boolean, integer or coding is a 400
OperationOutcome naming the parameter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter
from fhir.resources.R4B.parameters import Parameters
from pydantic import ValidationError
from starlette.requests import Request

from hub.api.fhir.outcome import HubFailure, request_body
from hub.errors import UnsupportedMediaType
from terminology.errors import InvalidParameter, MissingParameter

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
MAX_INTEGER = 2**31 - 1  # FHIR's integer is a signed 32-bit number


@dataclass
class OperationInput:
    operation: str
    values: dict[str, list[Any]]

    def all(self, name: str) -> list[Any]:
        return self.values.get(name, [])

    def one(self, name: str) -> Any:
        found = self.values.get(name, [])
        if len(found) > 1:
            raise InvalidParameter(
                f"{self.operation}: {name} is given {len(found)} times; give it once", expression=name
            )
        return found[0] if found else None

    def text(self, name: str) -> str | None:
        value = self.one(name)
        if value is not None and not isinstance(value, str):
            raise InvalidParameter(f"{self.operation}: {name} must be a string", expression=name)
        return value

    def concept_codings(self) -> list[dict[str, Any]] | None:
        """The codings of a ``codeableConcept`` parameter; None when it is not given."""
        concept = self.one("codeableConcept")
        if concept is None:
            return None
        codings = concept.get("coding", []) if isinstance(concept, dict) else []
        if not codings:
            raise MissingParameter(
                f"{self.operation}: codeableConcept has no coding", expression="codeableConcept"
            )
        return codings

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise MissingParameter(f"{self.operation}: {name} is required", expression=name)
        return value

    def boolean(self, name: str) -> bool | None:
        value = self.one(name)
        if value is None or isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise InvalidParameter(
            f"{self.operation}: {name} must be true or false, not {value!r}", expression=name
        )

    def integer(self, name: str) -> int | None:
        value = self.one(name)
        if value is None:
            return None
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INTEGER:
            return value
        raise InvalidParameter(
            f"{self.operation}: {name} must be a whole number from 0 to {MAX_INTEGER}, not {value!r}",
            expression=name,
        )

    def coding(self, name: str) -> dict[str, Any] | None:
        """A Coding: from a POST as is, from a GET as ``system|code`` (FHIR token syntax)."""
        value = self.one(name)
        if value is None or isinstance(value, dict):
            return value
        system, bar, code = value.rpartition("|") if isinstance(value, str) else ("", "", "")
        if not bar or not code:
            raise InvalidParameter(
                f"{self.operation}: {name} must be written system|code, not {value!r}", expression=name
            )
        return {"system": system or None, "code": code}


def from_query(request: Request, operation: str, accepted: Collection[str]) -> OperationInput:
    values: dict[str, list[Any]] = {}
    for name, value in request.query_params.multi_items():
        values.setdefault(name, []).append(value)
    return _checked(OperationInput(operation, values), accepted)


async def from_body(request: Request, operation: str, accepted: Collection[str]) -> OperationInput:
    """A POSTed Parameters resource (query parameters, if any, are added to it)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES:
        given = content_type or "no content type"
        raise HubFailure(
            UnsupportedMediaType(
                f"{operation}: POST a Parameters resource as application/fhir+json, not {given}"
            )
        )
    try:
        data = orjson.loads(await request_body(request))
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(
            f"{operation}: the body is not valid JSON: {exc}", expression="Parameters"
        ) from exc
    if not isinstance(data, dict) or data.get("resourceType") != "Parameters":
        raise InvalidParameter(
            f"{operation}: the body must be a Parameters resource", expression="Parameters"
        )
    try:
        Parameters.model_validate(data)
    except ValidationError as exc:
        issues = [(e["msg"], ".".join(["Parameters", *map(str, e["loc"])])) for e in exc.errors()]
        raise InvalidParameter(
            f"{operation}: invalid Parameters: {issues[0][1]}: {issues[0][0]}", issues=issues
        ) from exc
    found = from_query(request, operation, accepted).values
    for parameter in data.get("parameter") or ():  # the model lets "parameter": null through
        value = parameter.get("resource", parameter.get("part"))
        if value is None:
            value = next((v for k, v in parameter.items() if k.startswith("value")), None)
        found.setdefault(parameter["name"], []).append(value)
    return _checked(OperationInput(operation, found), accepted)


async def read(request: Request, operation: str, accepted: Collection[str]) -> OperationInput:
    if request.method == "POST":
        return await from_body(request, operation, accepted)
    return from_query(request, operation, accepted)


def _checked(given: OperationInput, accepted: Collection[str]) -> OperationInput:
    # "_format", "_pretty" and friends are general FHIR parameters every operation tolerates
    unknown = sorted(n for n in given.values if n not in accepted and not n.startswith("_"))
    if unknown:
        raise InvalidParameter(
            f"{given.operation}: unknown parameter {unknown[0]!r}; accepted: {', '.join(sorted(accepted))}",
            expression=unknown[0],
        )
    return given


def operation(name: str, accepted: Collection[str]) -> Callable[[Request], Awaitable[OperationInput]]:
    """A FastAPI dependency reading the parameters of operation ``name``."""

    async def dependency(request: Request) -> OperationInput:
        return await read(request, name, accepted)

    return dependency


def get_and_post(router: APIRouter, path: str, *, summary: str) -> Callable[[Endpoint], Endpoint]:
    """Register an operation for GET (query parameters) and POST (a Parameters resource), as
    two routes so each has its own OpenAPI operation id."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.get(path, summary=summary)(endpoint)
        router.post(path, summary=f"{summary} (Parameters)")(endpoint)
        return endpoint

    return register
