"""The YAML file's ``clients`` and ``channels``: validated, then made to exist in the DB at start-up,
and the ones it no longer lists taken away."""

from __future__ import annotations

import logging
import os

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.orm import Session

from hub.auth.passwords import is_password_hash
from hub.channels import service as channel_service
from hub.channels.schemas import ChannelSpec
from hub.clients import service as client_service
from hub.dhis2.config import Dhis2Config
from hub.settings import ConfigError, load_yaml

log = logging.getLogger("hub.config")


class ClientConfig(BaseModel):
    """A client as the YAML file declares it; its password comes from an env var or a stored hash."""

    model_config = ConfigDict(extra="forbid")
    client_id: str
    name: str
    roles: list[str] = Field(default_factory=list)
    password_env: str | None = None
    password_hash: str | None = None
    cert_fingerprint: str | None = None
    org_units: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_password_source(self) -> ClientConfig:
        if self.password_env and self.password_hash:
            raise ValueError(f"client {self.client_id}: give password_env or password_hash, not both")
        if self.password_hash is not None and not is_password_hash(self.password_hash):
            # else the client would load and then fail every login, its right password too
            raise ValueError(f"client {self.client_id}: password_hash is neither an argon2 nor a bcrypt hash")
        return self


class HubFile(BaseModel):
    model_config = ConfigDict(extra="allow")
    clients: list[ClientConfig] = Field(default_factory=list)
    channels: list[ChannelSpec] = Field(default_factory=list)
    dhis2: Dhis2Config = Field(default_factory=Dhis2Config)


def read(path: str) -> HubFile:
    """Parse and validate the file, and check that the environment holds every password it names;
    errors (:class:`ConfigError`) name the entry that is wrong, never the values given (a password
    hash may be among them)."""
    try:
        hub_file = HubFile.model_validate(load_yaml(path))
    except ValidationError as exc:
        problems = [
            f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise ConfigError(f"{path}: {'; '.join(problems)}") from None
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"{path}: {' '.join(str(exc).split())}") from None
    unset = [c for c in hub_file.clients if c.password_env and c.password_env not in os.environ]
    if unset:
        named = ", ".join(f"{c.client_id} ({c.password_env})" for c in unset)
        raise ConfigError(f"{path}: the variables holding these clients' passwords are not set: {named}")
    return hub_file


def apply(session: Session, hub_file: HubFile) -> None:
    """Create or update the file's clients and channels; retire those an earlier file made and this one
    no longer lists. Clients and channels made through the admin API or by mediators are untouched."""
    for client in hub_file.clients:
        # read() checked that the variable is set
        password = os.environ[client.password_env] if client.password_env else None
        client_service.upsert_from_config(session, config=client, password=password)
    channel_service.sync_from_config(session, hub_file.channels)
    retired_clients = client_service.retire_from_config(
        session, declared={client.client_id for client in hub_file.clients}
    )
    retired_channels = channel_service.retire_from_config(
        session, declared={spec.name for spec in hub_file.channels}
    )
    if retired_clients or retired_channels:
        log.warning(
            "removed what the config file no longer lists",
            extra={"clients": retired_clients, "channels": retired_channels},
        )
