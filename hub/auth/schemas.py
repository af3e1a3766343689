"""Admin-API users as the API reads and writes them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

# a user's rules, also held to by the first admin that HUB_ADMIN_EMAIL/HUB_ADMIN_PASSWORD bootstrap
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
EMAIL_MAX_LENGTH = 255
PASSWORD_MIN_LENGTH = 10


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=EMAIL_MAX_LENGTH, pattern=EMAIL_PATTERN)
    password: str = Field(min_length=PASSWORD_MIN_LENGTH)
    groups: list[str] = Field(default_factory=lambda: ["admin"])
    legacy_token_auth: bool = Field(
        False, description="also keep OpenHIM's sha512 passhash for legacy token auth"
    )


class UserPatch(BaseModel):
    """What to change of a user; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid")
    password: str | None = Field(None, min_length=PASSWORD_MIN_LENGTH)
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
