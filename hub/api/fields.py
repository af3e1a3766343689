"""Input types the admin API shares, so bad values are refused with a 422 before they reach the database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

MAX_ROW_ID = 2**63 - 1  # PostgreSQL's bigint; SQLite's INTEGER is 64-bit too

RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the time is out of range once converted to UTC") from exc


# A timezone is required: the database keeps UTC, and a naive time would be a guess.
UtcTimestamp = Annotated[AwareDatetime, AfterValidator(_in_utc)]
