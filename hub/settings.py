"""Hub settings: one YAML file (``HUB_CONFIG``) overlaid by ``HUB_*`` environment variables.

The YAML file's top-level scalar keys are settings (``database_url: ...``); its
``clients`` and ``channels`` lists are read by :mod:`hub.config_file`.
Environment variables win over the file.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hub.auth.schemas import EMAIL_MAX_LENGTH, EMAIL_PATTERN, PASSWORD_MIN_LENGTH

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev-secret-key"}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The YAML file's top-level keys that are not settings (read by hub.config_file and hub.dhis2.config).
SECTIONS = frozenset({"clients", "channels", "dhis2"})
# the width of an instance name's columns (transactions.instance, hub_instances.name, …)
INSTANCE_NAME_LENGTH = 64
DATABASE_BACKENDS = ("sqlite", "postgresql")
# what switches a retention step off from the environment (where an empty value is not None)
OFF = frozenset({"", "off", "none", "never"})


def _host_name() -> str:
    return socket.gethostname()[:INSTANCE_NAME_LENGTH]


class ConfigError(ValueError):
    """The settings or the YAML file are wrong; the message is one line, fit for an operator."""


def load_yaml(path: str | Path | None) -> dict[str, Any]:
    """Read the hub YAML file; a missing path means an empty config."""
    if not path:
        return {}
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the top level must be a mapping")
    return data


class _YamlSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        raise NotImplementedError

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("HUB_CONFIG")
        data = load_yaml(path)
        # A misspelt key (``databse_url``) would otherwise be dropped without a word and the hub
        # would run on the default instead (a SQLite file in the working directory).
        unknown = sorted(str(k) for k in data if k not in Settings.model_fields and k not in SECTIONS)
        if unknown:
            raise ConfigError(
                f"{path}: unknown top-level key(s) {', '.join(unknown)}; "
                f"expected settings or {', '.join(sorted(SECTIONS))}"
            )
        return {k: v for k, v in data.items() if k in Settings.model_fields}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    config: str | None = Field(default=None, description="path of the YAML config file")
    database_url: str = "sqlite:///./hub.db"
    secret_key: SecretStr = SecretStr("dev-secret-key")

    host: str = "127.0.0.1"
    port: int = Field(5001, ge=0, le=65535)  # 0: any free port
    # proxies whose X-Forwarded-For names a request's address (lockout counts per address);
    # a comma-separated list of addresses or networks, "*" for any
    forwarded_allow_ips: str = "127.0.0.1"
    log_format: Literal["json", "console"] = "json"
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL")

    # the first admin, held to the rules of a user the admin API makes
    admin_email: str | None = Field(None, max_length=EMAIL_MAX_LENGTH, pattern=EMAIL_PATTERN)
    admin_password: SecretStr | None = None
    admin_legacy_token_auth: bool = Field(
        False,
        description="also keep OpenHIM's sha512 passhash for the first admin, for legacy token auth "
        "(GET /authenticate/:user and the auth-* headers); mediators built with openhim-mediator-utils "
        "versions that use token auth (0.2.x; 0.4.0 uses Basic) need it, or a separate user created "
        "with `hub user add --legacy-token-auth`",
    )

    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None

    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0)
    upstream_timeout_s: float = Field(30.0, gt=0, allow_inf_nan=False)

    # argon2id cost (RFC 9106 / argon2-cffi defaults); production refuses less than OWASP's minimum
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(65536, ge=8)
    argon2_parallelism: int = Field(4, ge=1)

    # lockout (hub/auth/service.py, LockoutPolicy): failures per name and address, and per name
    auth_max_failures: int = Field(5, gt=0)
    auth_max_failures_per_name: int = Field(50, gt=0)
    # a finite time, at most ten years: "inf" would make every recorded failure overflow
    auth_lockout_s: float = Field(300.0, gt=0, le=10 * 365 * 86400)
    auth_cache_ttl_s: float = Field(60.0, ge=0, allow_inf_nan=False)

    embedded_worker: bool = True
    outbox_poll_s: float = Field(1.0, gt=0, allow_inf_nan=False)
    outbox_batch: int = Field(20, ge=1)
    # with the default back-off (2 s doubling to an hour), 100 attempts span about four days
    # of an upstream's outage before a delivery is dead-lettered (10 spanned about 17 minutes)
    outbox_max_attempts: int = Field(100, ge=1)
    outbox_backoff_base_s: float = Field(2.0, gt=0, allow_inf_nan=False)
    outbox_backoff_max_s: float = Field(3600.0, gt=0, allow_inf_nan=False)
    outbox_lease_s: float = Field(120.0, gt=0, allow_inf_nan=False)
    rerun_task_poll_s: float = Field(1.0, gt=0)  # how often hub serve looks for queued rerun tasks

    # Each hub serve process has a name, recorded on the transactions it opens and the rerun task
    # items it claims, and beats in hub_instances; start-up takes over only the in-flight work of
    # its own earlier incarnation and of instances whose heartbeat stopped (hub/instances/).
    instance_name: str = Field(
        default_factory=_host_name,
        min_length=1,
        max_length=INSTANCE_NAME_LENGTH,
        description="this process's name among the hub's replicas, unique to it (default: the host name)",
    )
    instance_heartbeat_s: float = Field(10.0, gt=0)
    instance_dead_after_s: float = Field(60.0, gt=0)  # an instance silent this long is dead

    # Retention (hub/transactions/retention.py), by age: transactions by when they started, settled
    # outbox deliveries (delivered, failed, dead) by when they were queued. None (in the environment:
    # "off") switches a step off; an age of 0 or less would take everything, so it is refused.
    body_cull_after_days: float | None = Field(30.0, gt=0)
    purge_after_days: float | None = Field(365.0, gt=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls), file_secret_settings)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError("not a database URL (sqlite:///PATH, postgresql+psycopg://HOST/DB)") from None
        if backend not in DATABASE_BACKENDS:
            raise ValueError(f"the hub runs on {' or '.join(DATABASE_BACKENDS)}, not {backend}")
        return value

    @field_validator("admin_password")
    @classmethod
    def _admin_password(cls, value: SecretStr | None) -> SecretStr | None:
        # said without the length given, which would tell something of the secret
        if value is not None and len(value.get_secret_value()) < PASSWORD_MIN_LENGTH:
            raise ValueError(f"must be at least {PASSWORD_MIN_LENGTH} characters")
        return value

    @field_validator("body_cull_after_days", "purge_after_days", mode="before")
    @classmethod
    def _off(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip().lower() in OFF else value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.env == "production" and self.secret_key.get_secret_value() in PLACEHOLDER_SECRETS:
            raise ValueError("HUB_SECRET_KEY must be set to a real secret when HUB_ENV=production")
        if self.env == "production" and (self.argon2_memory_kib < 19456 or self.argon2_time_cost < 2):
            raise ValueError("argon2 cost below OWASP's minimum (19 MiB, 2 passes) is refused in production")
        return self

    @model_validator(mode="after")
    def _tls_needs_a_certificate(self) -> Settings:
        # without a certificate the hub serves plain HTTP: a key or client CA alone would be ignored
        if not self.tls_cert and (self.tls_key or self.tls_client_ca):
            raise ValueError("HUB_TLS_KEY and HUB_TLS_CLIENT_CA need HUB_TLS_CERT")
        return self

    @model_validator(mode="after")
    def _dead_after_outlasts_heartbeats(self) -> Settings:
        if self.instance_dead_after_s < 2 * self.instance_heartbeat_s:
            # a live instance between two beats would be taken for dead, and its work failed
            raise ValueError("HUB_INSTANCE_DEAD_AFTER_S must be at least twice HUB_INSTANCE_HEARTBEAT_S")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once.

    Raises :class:`ConfigError` with a one-line message (never the values given: a secret may be
    among them) when a setting or the YAML file is wrong.
    """
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(describe(exc)) from None
    except ConfigError:
        raise
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"cannot read the config file (HUB_CONFIG): {_one_line(exc)}") from None


def describe(exc: ValidationError) -> str:
    """A settings validation error in one line, naming each variable and never its value."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        name = "HUB_" + "_".join(str(part) for part in error["loc"]).upper() if error["loc"] else ""
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{name}: {message}" if name else message)
    return "invalid settings: " + "; ".join(problems)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
