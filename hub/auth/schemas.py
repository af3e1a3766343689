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


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    groups: list[str]
    created_at: datetime
