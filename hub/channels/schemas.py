"""What a channel is, as YAML, the admin API and mediators' default channels describe it."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from hub.channels.patterns import compiled, parse_sed

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
MAX_TIMEOUT_S = 3600.0
# A send with a timeout of 0 or less never reaches the upstream; an hour is longer than any real one.
TimeoutS = Annotated[
    float, Field(gt=0, le=MAX_TIMEOUT_S, description=f"seconds, more than 0 and at most {MAX_TIMEOUT_S:g}")
]
# RFC 9110 8.3.1: type "/" subtype, both tokens
MEDIA_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+")


# Environment variables a route may not name: the hub's own settings (its database URL, secret
# key, first admin's password), Airflow's connections and keys, PostgreSQL's password. Channels
# come from the admin API too: any name would let an admin have the hub send them to any URL.
RESERVED_ENV_PREFIXES = ("HUB_", "AIRFLOW_", "PGPASS")


class RouteAuth(BaseModel):
    """Credentials the hub presents upstream; secrets come from the environment, never the file."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["basic", "bearer", "apitoken"]
    username: str | None = None
    secret_env: str = Field(
        pattern="^[A-Za-z_][A-Za-z0-9_]*$",
        description="environment variable holding the password or token; not one of the hub's own "
        f"({', '.join(p + '*' for p in RESERVED_ENV_PREFIXES)})",
    )

    @field_validator("secret_env")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.upper().startswith(RESERVED_ENV_PREFIXES):
            raise ValueError(
                f"{value} is one of the hub's own settings or another system's secrets; give the "
                "upstream's secret a variable of its own"
            )
        return value


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    url: HttpUrl = Field(description="upstream base URL; the (rewritten) request path is appended")
    primary: bool = False
    queued: bool = Field(False, description="primary only: answer 202 now, deliver through the outbox")
    path: str | None = Field(
        None, pattern="^/", description="fixed upstream path, replacing the request path"
    )
    path_transform: str | None = Field(None, description="sed-style s/from/to/[g] on the request path")
    timeout_s: TimeoutS | None = None
    auth: RouteAuth | None = None
    forward_auth: bool = Field(False, description="pass the client's Authorization header upstream")
    headers: dict[str, str] = Field(default_factory=dict)
    max_attempts: int | None = Field(None, ge=1, le=1000, description="outbox attempts before dead-lettering")

    @field_validator("url")
    @classmethod
    def _no_userinfo(cls, value: HttpUrl) -> HttpUrl:
        # a URL is copied into every transaction's orchestrations; a secret there would be too
        if value.username or value.password:
            raise ValueError(
                "a route URL carries no credentials: give them as auth (type, username, secret_env), "
                "whose secret the hub reads from the environment"
            )
        return value

    @field_validator("path_transform")
    @classmethod
    def _sed(cls, value: str | None) -> str | None:
        if value is not None:
            parse_sed(value)
        return value


class BodyPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    store_request: bool = True
    store_response: bool = True
    max_request_bytes: int | None = Field(
        None, ge=1, description="bigger requests get 413; none means the hub's own limit"
    )
    max_stored_bytes: int = Field(64 * 1024, ge=0, description="stored bodies are cut at this size")
    redact_fields: list[str] = Field(default_factory=list, description="JSON keys masked wherever they occur")
    redact_headers: list[str] = Field(default_factory=list)


class ChannelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # the name is a path segment of /admin/channels/{name}, where even %2F reads as "/"
    name: str = Field(min_length=1, max_length=255, pattern="^[^/]+$")
    description: str = ""
    url_pattern: str = Field(description="regex matched against the whole request path")
    methods: list[str] = Field(default_factory=lambda: sorted(METHODS))
    content_types: list[str] = Field(
        default_factory=list,
        description="media types (type/subtype, any case, parameters ignored) taken; empty means any",
    )
    allowed_roles: list[str] = Field(
        default_factory=list, description="client roles or client ids admitted (OpenHIM's `allow`)"
    )
    public: bool = Field(False, description="no authentication at all")
    priority: int = Field(0, ge=-(2**31), le=2**31 - 1)  # the column is a 32-bit integer
    routes: list[Route] = Field(min_length=1)
    timeout_s: TimeoutS | None = None
    body_policy: BodyPolicy = Field(default_factory=BodyPolicy)
    enabled: bool = True

    @field_validator("url_pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        compiled(value, "url_pattern")
        return value

    @field_validator("content_types")
    @classmethod
    def _media_types(cls, value: list[str]) -> list[str]:
        # literal, as OpenHIM's matchContentTypes: "application/fhir+json" is that type, not a regex
        wrong = [ct for ct in value if not MEDIA_TYPE.fullmatch(ct)]
        if wrong:
            raise ValueError(f"content_types must be media types such as application/json: {wrong}")
        return [ct.lower() for ct in value]

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[str]) -> list[str]:
        upper = [m.upper() for m in value]
        unknown = set(upper) - METHODS
        if unknown:
            raise ValueError(f"unknown HTTP methods: {sorted(unknown)}")
        return upper

    @model_validator(mode="after")
    def _one_primary(self) -> ChannelSpec:
        primaries = [r for r in self.routes if r.primary]
        if len(primaries) != 1:
            raise ValueError(f"a channel needs exactly one primary route, found {len(primaries)}")
        if any(r.queued and not r.primary for r in self.routes):
            raise ValueError("only the primary route can be queued: secondary routes always are")
        if any(r.forward_auth and (r.queued or not r.primary) for r in self.routes):
            raise ValueError(
                "forward_auth works only on a synchronous primary route: queued deliveries "
                "never store the client's credentials"
            )
        names = [r.name for r in self.routes]
        if len(set(names)) != len(names):
            raise ValueError("route names must be unique within a channel")
        if not self.public and not self.allowed_roles:
            raise ValueError("a non-public channel needs allowed_roles")
        return self


class ChannelOut(ChannelSpec):
    id: int
    source: str
    version: int


class ChannelAuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    channel_name: str
    action: str
    actor: str
    at: Any
    before: dict[str, Any] | None
    after: dict[str, Any] | None
