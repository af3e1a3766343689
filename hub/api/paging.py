"""Cursor paging, as every admin list does it: a full page has a next page, named by its last row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def next_cursor(rows: Sequence[Any], limit: int, key: str = "id") -> Any:
    """The cursor of the page after ``rows`` (its last row's ``key``), or None when it was the last."""
    return getattr(rows[-1], key) if len(rows) == limit else None
