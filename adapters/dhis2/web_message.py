"""DHIS2's WebMessage envelope and the base for every typed result parsed from DHIS2 JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import AliasGenerator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Wire(BaseModel):
    """Reads DHIS2's camelCase JSON into snake_case fields; unknown keys are ignored because
    every release adds some."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=to_camel),
        validate_by_name=True,
        validate_by_alias=True,
        extra="ignore",
    )


def is_web_message(body: Any) -> bool:
    return isinstance(body, Mapping) and "httpStatusCode" in body


def unwrap(body: Any) -> tuple[Any, str | None]:
    """``(payload, message)``: the ``response`` inside a WebMessage (2.38+ wraps imports in one;
    older releases wrap only some), or the body itself when it is not wrapped. The payload is
    ``None`` for a WebMessage that carries only a message, as DHIS2 sends for errors raised
    before any import work."""
    if is_web_message(body):
        return body.get("response"), body.get("message")
    return body, None
