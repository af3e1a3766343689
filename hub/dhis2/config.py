"""DHIS2 settings, from the ``dhis2:`` key of the hub YAML file.

Example::

    dhis2:
      targets:
        - name: national
          base_url: https://dhis2.example.org
          version: "2.39"            # optional pin; otherwise the adapter detects it
          auth: {type: basic, username: hub, secret_env: DHIS2_PASSWORD}
      metadata_source: national      # the target the metadata sync pulls from
      data_roles: [dhis2]            # client roles allowed to post data values
      system: {version: "2.41.0"}    # what /api/system/info reports
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.settings import load_yaml

LATEST_API_VERSION = 42


class Dhis2Auth(BaseModel):
    """How the hub authenticates to a DHIS2 target; the secret itself stays in the environment."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["basic", "apitoken"] = "basic"
    username: str | None = None
    secret_env: str

    @model_validator(mode="after")
    def _basic_needs_username(self) -> Dhis2Auth:
        if self.type == "basic" and not self.username:
            raise ValueError("basic auth needs a username")
        return self

    def secret(self) -> str:
        """The password or token, read from ``secret_env`` when needed."""
        value = os.environ.get(self.secret_env)
        if not value:
            raise ValueError(f"environment variable {self.secret_env} is not set")
        return value


class Dhis2Target(BaseModel):
    """A DHIS2 instance the hub delivers data to or reads metadata from."""

    model_config = ConfigDict(extra="forbid")
    name: str
    base_url: str
    version: str | None = None
    auth: Dhis2Auth


class Dhis2System(BaseModel):
    """The DHIS2 server the hub presents itself as to clients."""

    model_config = ConfigDict(extra="forbid")
    version: str = "2.41.0"
    revision: str = "hub"
    system_name: str = "Health interoperability hub"
    server_time_zone_id: str = "Etc/UTC"

    @property
    def api_version(self) -> int:
        """The API version unversioned ``/api/...`` calls behave as (2.37.x → 37), as a real server does."""
        minor = int(self.version.split(".")[1])
        return min(minor, LATEST_API_VERSION)


class Dhis2Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    targets: list[Dhis2Target] = Field(default_factory=list)
    metadata_source: str | None = None
    data_roles: list[str] = Field(default_factory=lambda: ["dhis2"])
    system: Dhis2System = Field(default_factory=Dhis2System)

    @model_validator(mode="after")
    def _source_is_a_target(self) -> Dhis2Config:
        names = [t.name for t in self.targets]
        if len(names) != len(set(names)):
            raise ValueError("DHIS2 target names must be unique")
        if self.metadata_source and self.metadata_source not in names:
            raise ValueError(f"metadata_source {self.metadata_source!r} is not one of the targets {names}")
        return self

    def target(self, name: str) -> Dhis2Target:
        """The target called ``name``; KeyError if there is none."""
        for target in self.targets:
            if target.name == name:
                return target
        raise KeyError(f"no DHIS2 target named {name!r}")


def load(path: str | None) -> Dhis2Config:
    """The ``dhis2:`` section of the YAML file at ``path`` (defaults when absent)."""
    if not path:
        return Dhis2Config()
    return _load_cached(path, Path(path).stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load_cached(path: str, _mtime_ns: int) -> Dhis2Config:
    # keyed on the file's mtime so an edited file is picked up without a restart
    return Dhis2Config.model_validate(load_yaml(path).get("dhis2") or {})
