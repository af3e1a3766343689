"""Admin-API users as the API reads and writes them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=255, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=10)
    groups: list[str] = Field(default_factory=lambda: ["admin"])
    legacy_token_auth: bool = Field(
        False, description="also keep OpenHIM's sha512 passhash for legacy token auth"
    )


class UserPatch(BaseModel):
    """What to change of a user; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid")
    password: str | None = Field(None, min_length=10)
    groups: list[str] | None = None
    legacy_token_auth: bool | None = Field(
        None, description="keep (true: needs the password) or drop OpenHIM's sha512 passhash"
    )


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    groups: list[str]
    legacy_token_auth: bool
    created_at: datetime
