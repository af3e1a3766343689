"""The ``application/json+openhim`` response a mediator sends back (built by mediators.openhim too)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.transactions.models import Status

CONTENT_TYPE = "application/json+openhim"


class MediatorHttpResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: int = Field(ge=100, le=599)
    headers: dict[str, Any] = Field(default_factory=dict)
    body: Any = None
    timestamp: str | None = None


class OrchestrationRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    method: str | None = None
    path: str | None = None
    host: str | None = None
    port: Any = None
    querystring: str | None = None
    headers: dict[str, Any] = Field(default_factory=dict)
    body: Any = None
    timestamp: str | None = None


class Orchestration(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    group: str | None = None
    request: OrchestrationRequest = Field(default_factory=OrchestrationRequest)
    response: MediatorHttpResponse | None = None
    error: Any = None


class MediatorResponse(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    urn: str = Field(alias="x-mediator-urn")
    status: Status
    response: MediatorHttpResponse
    orchestrations: list[Orchestration] = Field(default_factory=list)
    properties: dict[str, Any] = Field(default_factory=dict)
    error: Any = None
