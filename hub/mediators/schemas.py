"""Mediator documents as OpenHIM core exchanges them (camelCase on the wire), and the rules on their config.

A mediator describes its settings with ``configDefs``; every config it registers
and every config an admin PUTs is checked against them by :func:`check_config`.
Password values leave the hub as :data:`MASK` and a PUT that sends the mask back
keeps the stored secret (:func:`mask_passwords`, :func:`restore_passwords`).
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

MASK = "**********"  # what OpenHIM core shows instead of a password
CHANNEL_SOURCE_PREFIX = "mediator:"  # channels.source of a channel a mediator installed

ConfigType = Literal["string", "bool", "number", "option", "bigstring", "map", "struct", "password"]

# node-semver's valid(): x.y.z, optional prerelease and build, an optional leading "v".
SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)


def semver_key(version: str) -> tuple[Any, ...]:
    """Sort key with SemVer precedence: a release outranks its prereleases, numeric ids sort numerically."""
    match = SEMVER.match(version)
    if match is None:
        raise ValueError(f"{version!r} is not a SemVer version (x.y.z)")
    major, minor, patch, pre = match.groups()
    ids = tuple((0, int(i), "") if i.isdigit() else (1, 0, i) for i in pre.split(".")) if pre else ()
    return int(major), int(minor), int(patch), not pre, ids


def number_as_text(value: Any) -> Any:
    """A number where OpenHIM keeps text is its text, as mongoose casts it."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


def _empty_is_none(value: Any) -> Any:
    """An empty ``{}`` or ``[]`` is nothing given (mongoose casts ``{}`` to an empty array)."""
    return None if value in ({}, []) else value


@functools.cache
def _optional_keys(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(
        key
        for name, field in model.model_fields.items()
        if not field.is_required()
        for key in (name, field.alias)
        if key
    )


class OpenHIMDocument(BaseModel):
    """A document as OpenHIM core reads it: null in an optional field is the field left out (core
    tests ``!= null`` and mongoose skips nulls), so a mediator that sends ``"orchestrations": null``
    or ``"configDefs": null`` is not refused."""

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        optional = _optional_keys(cls)
        return {k: v for k, v in data.items() if v is not None or k not in optional}


class _Camel(OpenHIMDocument):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True)


class ConfigDef(_Camel):
    """One setting a mediator exposes; ``template`` describes a struct's fields. As in OpenHIM's
    schema, ``param`` and ``type`` are optional: a def without a param (or with ``""``) describes
    none, and one without a type takes any value. Option values given as numbers are their text, and
    an empty template is none, as mongoose casts them."""

    param: Annotated[str | None, BeforeValidator(_blank_is_none)] = None
    display_name: str | None = None
    description: str | None = None
    type: ConfigType | None = None
    values: list[Annotated[str, BeforeValidator(number_as_text)]] | None = None
    template: Annotated[list[ConfigDef] | None, BeforeValidator(_empty_is_none)] = None
    array: bool = False

    @model_validator(mode="after")
    def _complete(self) -> ConfigDef:
        if self.type == "option" and not self.values:
            raise ValueError(f"option param {self.param!r} needs a non-empty values array")
        if self.type == "struct":
            if not self.template:
                raise ValueError(f"struct param {self.param!r} needs a template")
            if any(t.param is None or t.type is None for t in self.template):
                raise ValueError(
                    f"every template field of struct param {self.param!r} needs a param and a type"
                )
            if any(t.type == "struct" for t in self.template):
                raise ValueError(f"struct param {self.param!r} may not nest another struct")
        return self


def by_param(defs: Iterable[ConfigDef]) -> dict[str, ConfigDef]:
    """The defs that describe a param, by its name."""
    return {d.param: d for d in defs if d.param is not None}


class OpenHIMRoute(_Camel):
    """A route as OpenHIM describes one: ``endpoints`` and default channels' ``routes``."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1)
    host: str = Field(min_length=1)
    port: int = Field(ge=0, le=65535)
    path: str | None = None
    path_transform: str | None = None
    secured: bool = False
    primary: bool = False
    username: str | None = None
    password: str | None = None
    type: Literal["http", "tcp", "mllp", "kafka"] = "http"  # only http is routed (install refuses others)
    status: Literal["enabled", "disabled"] = "enabled"
    forward_auth_header: bool = False


class OpenHIMChannel(_Camel):
    """A channel in OpenHIM's shape; fields the hub has no use for are kept as sent."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1)
    description: str = ""
    url_pattern: str = Field(min_length=1)
    type: Literal["http", "tcp", "tls", "polling"] = "http"
    methods: list[str] = Field(default_factory=list)
    priority: int | None = Field(None, ge=1, description="OpenHIM tries 1 first, unprioritised channels last")
    allow: list[str] = Field(default_factory=list)
    auth_type: Literal["private", "public"] = "private"
    routes: list[OpenHIMRoute] = Field(default_factory=list)
    match_content_types: list[str] = Field(default_factory=list)
    request_body: bool = True
    response_body: bool = True
    timeout: int | None = Field(None, ge=1, description="milliseconds")
    status: Literal["enabled", "disabled", "deleted"] = "enabled"  # anything but enabled installs disabled


class _MediatorFields(_Camel):
    urn: str = Field(min_length=1, max_length=300 - len(CHANNEL_SOURCE_PREFIX))
    # trimmed, as node-semver reads it; at most what mediators.version holds
    version: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
    name: str = Field(min_length=1, max_length=255)
    description: str = ""
    endpoints: list[OpenHIMRoute] = Field(default_factory=list)  # needed by a new mediator only
    default_channel_config: list[OpenHIMChannel] = Field(default_factory=list)
    config_defs: list[ConfigDef] = Field(default_factory=list)
    config: dict[str, Any] | None = None


class MediatorIn(_MediatorFields):
    """A registration (``POST /mediators``)."""

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        semver_key(value)
        return value

    @model_validator(mode="after")
    def _config_fits_defs(self) -> MediatorIn:
        # As OpenHIM core: a config is checked against the configDefs sent with it; a mediator that sends
        # no configDefs at all registers its config as it is (an empty list still describes no params).
        if self.config is not None and "config_defs" in self.model_fields_set:
            check_config(self.config_defs, self.config)
        return self


class MediatorOut(_MediatorFields):
    """A registered mediator as ``GET /mediators`` returns it (passwords masked)."""

    last_heartbeat: datetime | None = Field(None, alias="_lastHeartbeat")
    uptime: float | None = Field(None, alias="_uptime")


class HeartbeatIn(BaseModel):
    """A heartbeat; OpenHIM core stores ``uptime`` as a Number (so ``"5"`` is 5) and answers the
    config for ``config === true`` only, taking any other value as no."""

    uptime: float = Field(ge=0, allow_inf_nan=False, description="seconds the mediator has been up")
    config: bool = Field(False, description="true: answer with the config even if unchanged")

    @field_validator("config", mode="before")
    @classmethod
    def _only_true_asks(cls, value: Any) -> bool:
        return value is True


# -- config rules ------------------------------------------------------------------------------------


def _check_value(name: str, definition: ConfigDef, value: Any) -> None:
    kind = definition.type
    if kind is None:
        return
    if kind in ("string", "bigstring", "password"):
        ok = isinstance(value, str)
    elif kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "option":
        ok = value in (definition.values or [])
    elif kind == "map":
        # OpenHIM tests ``typeof value === "object"``, which null passes, for a map and a struct alike.
        ok = value is None or (isinstance(value, dict) and all(isinstance(v, str) for v in value.values()))
    else:  # struct: OpenHIM checks the field names against the template, not the fields' values
        if value is None:
            return
        if not isinstance(value, dict):
            raise ValueError(f"config param {name} must be an object")
        fields = by_param(definition.template or [])
        unknown = next((key for key in value if key not in fields), None)
        if unknown is not None:
            raise ValueError(f"field {unknown} is not in the template of config param {name}")
        return
    if not ok:
        expected = f"one of {definition.values}" if kind == "option" else f"of type {kind}"
        raise ValueError(f"config param {name} must be {expected}")


def _check_param(name: str, definition: ConfigDef, value: Any) -> None:
    if not definition.array:
        _check_value(name, definition, value)
        return
    if not isinstance(value, list):
        raise ValueError(f"config param {name} must be an array of {definition.type}")
    for i, item in enumerate(value):
        _check_value(f"{name}[{i}]", definition, item)


def check_config(defs: list[ConfigDef], config: dict[str, Any]) -> None:
    """Raise ValueError naming the first param that no def describes or whose value does not fit."""
    described = by_param(defs)
    for param, value in config.items():
        if param not in described:
            raise ValueError(f"no config definition for param {param}")
        _check_param(param, described[param], value)


def fits(definition: ConfigDef, value: Any) -> bool:
    try:
        _check_param(definition.param or "", definition, value)
    except ValueError:
        return False
    return True


def mask_passwords(defs: list[ConfigDef], config: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy of ``config`` with every password value (also in arrays and structs) replaced by MASK."""
    if config is None:
        return None
    masked = copy.deepcopy(config)
    _mask(defs, masked)
    return masked


def _mask(defs: list[ConfigDef], config: dict[str, Any]) -> None:
    def masked(d: ConfigDef, value: Any) -> Any:
        if d.type == "password" and value:
            return MASK
        if d.type == "struct" and isinstance(value, dict):
            _mask(d.template or [], value)
        return value

    for param, d in by_param(defs).items():
        if param in config:
            value = config[param]
            config[param] = (
                [masked(d, v) for v in value] if d.array and isinstance(value, list) else masked(d, value)
            )


def restore_passwords(defs: list[ConfigDef], incoming: dict[str, Any], stored: dict[str, Any] | None) -> None:
    """Put the stored secret back wherever ``incoming`` still holds MASK (an edit of a masked GET).

    A secret is never moved to another entry of an array: an entry of structs takes the secret
    of the stored entry whose other fields it repeats (so deleting or reordering hosts keeps
    each host's password, and an entry pointed at a new host does not take the old host's); an
    array of passwords is read by position, as OpenHIM core does, unless it got shorter, when
    which secret left with the removed entry cannot be told. A mask left unrestored is refused
    (:func:`unrestored_masks`)."""
    if not stored:
        return
    for param, d in by_param(defs).items():
        if param not in incoming or param not in stored:
            continue
        new, old = incoming[param], stored[param]
        if d.array and isinstance(new, list) and isinstance(old, list):
            incoming[param] = _restored_items(d, new, old)
        else:
            incoming[param] = _restored(d, new, old)


def _restored(d: ConfigDef, new: Any, old: Any) -> Any:
    if d.type == "password":
        return old if new == MASK else new
    if d.type == "struct" and isinstance(new, dict) and isinstance(old, dict):
        restore_passwords(d.template or [], new, old)
    return new


def _restored_items(d: ConfigDef, new: list[Any], old: list[Any]) -> list[Any]:
    if d.type == "struct":
        unused = list(range(len(old)))
        items = []
        for item in new:
            match = next((i for i in unused if _same_entry(d.template or [], item, old[i])), None)
            if match is not None:
                unused.remove(match)
                item = _restored(d, item, old[match])
            items.append(item)
        return items
    if len(new) < len(old):
        return new
    return [_restored(d, n, old[i]) if i < len(old) else n for i, n in enumerate(new)]


def _same_entry(template: list[ConfigDef], new: Any, old: Any) -> bool:
    """Whether two struct values agree on every field but their passwords."""
    if not (isinstance(new, dict) and isinstance(old, dict)):
        return False
    secret = {t.param for t in template if t.type == "password"}
    return all(new.get(k) == old.get(k) for k in (new.keys() | old.keys()) - secret)


def unrestored_masks(defs: list[ConfigDef], config: dict[str, Any], prefix: str = "") -> list[str]:
    """The password params (``db.password``, ``keys[2]``) still holding MASK after
    :func:`restore_passwords`: a mask with no stored secret behind it, which must not become the password."""
    found: list[str] = []

    def visit(name: str, d: ConfigDef, value: Any) -> None:
        if d.type == "password" and value == MASK:
            found.append(name)
        elif d.type == "struct" and isinstance(value, dict):
            found.extend(unrestored_masks(d.template or [], value, f"{name}."))

    for param, d in by_param(defs).items():
        if param not in config:
            continue
        value, name = config[param], prefix + param
        if d.array and isinstance(value, list):
            for i, item in enumerate(value):
                visit(f"{name}[{i}]", d, item)
        else:
            visit(name, d, value)
    return found
