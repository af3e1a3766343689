"""The ``application/json+openhim`` response a mediator sends back (built by mediators.openhim too)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)

from hub.mediators.schemas import OpenHIMDocument, number_as_text
from hub.transactions.models import Status
from hub.transactions.service import FINAL, status_for

CONTENT_TYPE = "application/json+openhim"
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token
# The statuses in any case, and the spelling OpenHIM's mediator template documents.
STATUS_WORDS = {s.value.casefold(): s for s in Status} | {
    "completed with errors": Status.COMPLETED_WITH_ERRORS
}

log = logging.getLogger("hub.mediators")


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


class HttpMessage(OpenHIMDocument):
    """What a request and a response a mediator reports have in common."""

    model_config = ConfigDict(extra="allow")
    headers: dict[str, Any] = Field(default_factory=dict)
    body: Any = None
    timestamp: Timestamp = None


class OrchestrationRequest(HttpMessage):
    method: str | None = None
    path: str | None = None
    host: str | None = None
    port: Any = None
    querystring: str | None = None


class OrchestrationResponse(HttpMessage):
    """An upstream's answer as a mediator reports it: OpenHIM stores its status as an optional
    Number, so one without a status (a call that never got one) is still a record of the call."""

    status: int | None = None


class MediatorHttpResponse(OrchestrationResponse):
    """The response for the client, which the hub sends as it is: its status must be a final HTTP one."""

    status: int = Field(ge=100, le=599)

    def header_fields(self) -> list[tuple[str, str]]:
        """The headers as HTTP lines (:func:`header_lines`), leaving out names HTTP cannot carry
        (a JSON key can be anything)."""
        return [(name, value) for name, value in header_lines(self.headers) if HEADER_NAME.fullmatch(name)]

    def default_content_type(self) -> str:
        """What a body sent without a content-type header is: text for a string, JSON otherwise."""
        return "text/plain" if isinstance(self.body, str) else "application/json"


def _problems(exc: ValidationError) -> str:
    """The count of a document's problems and where the first is, without the values (which may
    hold patient data): ``2 problem(s), first: orchestrations.0.name: Field required``."""
    first = exc.errors()[0]
    where = ".".join(map(str, first["loc"])) or "(document)"
    what = "not a JSON object" if first["type"] in ("model_type", "dict_type") else first["msg"]
    return f"{exc.error_count()} problem(s), first: {where}: {what}"


class Orchestration(OpenHIMDocument):
    """One step of a mediator's work. ``hub_notes`` says what the hub left out to read it."""

    model_config = ConfigDict(extra="allow")
    name: str
    group: str | None = None
    request: OrchestrationRequest = Field(default_factory=OrchestrationRequest)
    response: OrchestrationResponse | None = None
    error: Any = None
    hub_notes: list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_unreadable_headers(cls, data: Any) -> Any:
        """OpenHIM stores headers as any value; the hub stores them as header lines under the
        channel's policy, which needs an object: other headers are dropped, with a note."""
        if not isinstance(data, dict):
            return data
        notes: list[str] = []
        for part in ("request", "response"):
            message = data.get(part)
            if isinstance(message, dict) and not isinstance(message.get("headers"), dict | None):
                data = {**data, part: {k: v for k, v in message.items() if k != "headers"}}
                notes.append(f"{part}.headers was not a JSON object and was left out")
        return {**data, "hub_notes": notes} if notes else data


def _unnamed_if_unreadable(value: Any, handler: ValidatorFunctionWrapHandler) -> Orchestration:
    """An orchestration the hub cannot read is kept as its name and what was wrong, so that neither
    the client's response nor the mediator's other orchestrations are lost over it."""
    try:
        return handler(value)
    except ValidationError as exc:
        name = value.get("name") if isinstance(value, dict) else None
        return Orchestration(
            name=name if isinstance(name, str) and name else "(unnamed)",
            error={"message": f"the hub could not read this orchestration: {_problems(exc)}"},
        )


class MediatorResponse(OpenHIMDocument):
    """A mediator's answer. OpenHIM core needs only ``response``: a mediator that leaves out its urn
    (the Java mediator engine does when it cannot read its own) or its ``status`` (optional in
    OpenHIM's mediator spec) still answers; without a status the transaction takes the one the
    HTTP status implies, as OpenHIM derives it. OpenHIM sets the client's response before it
    stores anything else, so a status, orchestrations or properties it could not store never
    cost the client its answer: here an unknown status counts as none given, orchestrations and
    properties are read as far as they can be (:class:`Orchestration`, :func:`_unnamed_if_unreadable`)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    urn: Annotated[str | None, BeforeValidator(number_as_text)] = Field(None, alias="x-mediator-urn")
    status: Status | None = None
    response: MediatorHttpResponse
    orchestrations: list[Annotated[Orchestration, WrapValidator(_unnamed_if_unreadable)]] = Field(
        default_factory=list
    )
    properties: dict[str, Any] = Field(default_factory=dict)
    error: Any = None

    @field_validator("status", mode="before")
    @classmethod
    def _known_status(cls, value: Any, info: ValidationInfo) -> Status | None:
        """The status in any case; "Completed with Errors" (as OpenHIM's mediator template documents
        it) is "Completed with error(s)". Any other value is logged and counts as none given."""
        status = STATUS_WORDS.get(value.strip().casefold()) if isinstance(value, str) else None
        if status is None:
            log.warning(
                "mediator reported a status the hub does not know; status taken from HTTP",
                extra={"mediator": info.data.get("urn"), "reported": str(value)[:64]},
            )
        return status

    @field_validator("orchestrations", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        """One orchestration given without its array is an array of one, as mongoose casts it."""
        return value if isinstance(value, list) else [value]

    @field_validator("properties", mode="before")
    @classmethod
    def _as_object(cls, value: Any, info: ValidationInfo) -> Any:
        """Properties that are not an object are kept as sent, under ``value``."""
        if isinstance(value, dict):
            return value
        log.warning(
            'mediator reported properties that are not a JSON object; stored under "value"',
            extra={"mediator": info.data.get("urn")},
        )
        return {"value": value}

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
            f"mediator returned an invalid {CONTENT_TYPE} response: {_problems(exc)}"
        ) from exc
