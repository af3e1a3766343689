"""Clients as the admin API reads and writes them; password hashes never leave the hub."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.api.fields import UtcTimestamp
from hub.auth.models import ApiToken
from hub.auth.service import sha256_fingerprint


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_id: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.@-]+$")
    name: str = Field(min_length=1, max_length=255)
    roles: list[str] = Field(default_factory=list)
    password: str | None = Field(None, min_length=8, description="stored as an argon2 hash")
    cert_fingerprint: str | None = Field(None, description="SHA-256 of the client certificate (DER)")
    org_units: list[str] = Field(
        default_factory=list, description="DHIS2 org unit subtrees it may report for"
    )

    @field_validator("cert_fingerprint")
    @classmethod
    def _sha256(cls, value: str | None) -> str | None:
        return sha256_fingerprint(value) if value else None


class ClientPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=255)
    roles: list[str] | None = None
    password: str | None = Field(None, min_length=8)
    cert_fingerprint: str | None = Field(None, description="SHA-256 of the client certificate; '' removes it")
    org_units: list[str] | None = None
    enabled: bool | None = None

    @field_validator("cert_fingerprint")
    @classmethod
    def _sha256(cls, value: str | None) -> str | None:
        return sha256_fingerprint(value) if value else value


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    client_id: str
    name: str
    roles: list[str]
    org_units: list[str]
    cert_fingerprint: str | None
    has_password: bool
    enabled: bool
    source: str
    created_at: datetime


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)
    expires_at: UtcTimestamp | None = Field(None, description="must be in the future; none: never expires")


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="shown once; only its hash is kept")

    @classmethod
    def of(cls, row: ApiToken, plaintext: str) -> TokenCreated:
        return cls(**TokenOut.model_validate(row).model_dump(), token=plaintext)
