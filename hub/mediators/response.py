"""The ``application/json+openhim`` response a mediator sends back (built by mediators.openhim too)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from hub.mediators.schemas import OpenHIMDocument
from hub.transactions.models import Status
from hub.transactions.service import FINAL, status_for

CONTENT_TYPE = "application/json+openhim"
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token


def js_timestamp(when: datetime) -> str:
    """``when`` as JavaScript's ``Date.toISOString()`` writes it, the form OpenHIM's documents use."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _epoch_ms_as_text(value: Any) -> Any:
    """A timestamp sent as epoch milliseconds (JavaScript's Date takes one) becomes ISO text."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return value
    try:
        return js_timestamp(datetime.fromtimestamp(value / 1000, UTC))
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"timestamp {value} is not a time") from exc


def _number_as_text(value: Any) -> Any:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Timestamp = Annotated[str | None, BeforeValidator(_epoch_ms_as_text)]


def header_lines(headers: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Headers a mediator reports, as HTTP lines: a value given as a list is a line each (as
    OpenHIM's Koa sends it), any other value its text; null values are left out."""
    return [
        (name, str(value))
        for name, given in headers.items()
        for value in (given if isinstance(given, list) else [given])
        if value is not None
    ]


class MediatorHttpResponse(OpenHIMDocument):
    model_config = ConfigDict(extra="allow")
    status: int = Field(ge=100, le=599)
    headers: dict[str, Any] = Field(default_factory=dict)
    body: Any = None
    timestamp: Timestamp = None

    def header_fields(self) -> list[tuple[str, str]]:
        """The headers as HTTP lines (:func:`header_lines`), leaving out names HTTP cannot carry
        (a JSON key can be anything)."""
        return [(name, value) for name, value in header_lines(self.headers) if HEADER_NAME.fullmatch(name)]

    def default_content_type(self) -> str:
        """What a body sent without a content-type header is: text for a string, JSON otherwise."""
        return "text/plain" if isinstance(self.body, str) else "application/json"


class OrchestrationRequest(OpenHIMDocument):
    model_config = ConfigDict(extra="allow")
    method: str | None = None
    path: str | None = None
    host: str | None = None
    port: Any = None
    querystring: str | None = None
    headers: dict[str, Any] = Field(default_factory=dict)
    body: Any = None
    timestamp: Timestamp = None


class Orchestration(OpenHIMDocument):
    model_config = ConfigDict(extra="allow")
    name: str
    group: str | None = None
    request: OrchestrationRequest = Field(default_factory=OrchestrationRequest)
    response: MediatorHttpResponse | None = None
    error: Any = None


class MediatorResponse(OpenHIMDocument):
    """A mediator's answer. OpenHIM core needs only ``response``: a mediator that leaves out its urn
    (the Java mediator engine does when it cannot read its own) or its ``status`` (optional in
    OpenHIM's mediator spec) still answers; without a status the transaction takes the one the
    HTTP status implies, as OpenHIM derives it."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    urn: Annotated[str | None, BeforeValidator(_number_as_text)] = Field(None, alias="x-mediator-urn")
    status: Status | None = None
    response: MediatorHttpResponse
    orchestrations: list[Orchestration] = Field(default_factory=list)
    properties: dict[str, Any] = Field(default_factory=dict)
    error: Any = None

    @field_validator("response")
    @classmethod
    def _final(cls, response: MediatorHttpResponse) -> MediatorHttpResponse:
        if response.status < 200:
            raise ValueError(f"the client's response needs a final HTTP status, not {response.status}")
        return response

    @property
    def reported_status(self) -> Status | None:
        """The mediator's own status, when it gave a final one: it stands whatever the transaction's
        other routes do (OpenHIM's setFinalStatus).

        The reply ends the call, and nothing settles a transaction left in Processing or
        Pending Async later (start-up recovery would call it Failed): a status that is not
        final counts as none given.
        """
        return self.status if self.status in FINAL else None

    @property
    def transaction_status(self) -> Status:
        """The status the transaction closes with: the mediator's, or else the one OpenHIM derives
        from the HTTP status."""
        return self.reported_status or status_for(self.response.status)


class InvalidMediatorReply(ValueError):
    """An answer labelled ``application/json+openhim`` that is not a mediator response."""


def parse_reply(content_type: str | None, body: bytes) -> MediatorResponse | None:
    """The mediator's reply when an answer is ``application/json+openhim``; None for any other answer."""
    if not (content_type or "").startswith(CONTENT_TYPE):
        return None
    try:
        return MediatorResponse.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidMediatorReply(
            f"mediator returned an invalid {CONTENT_TYPE} response: "
            f"{exc.error_count()} problem(s), first: {exc.errors()[0]['msg']}"
        ) from exc
