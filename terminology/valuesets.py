"""Value sets: stored definitions (``compose``) that expansions are computed from."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from terminology import resources
from terminology.models import ValueSet


def save(
    session: Session, *, resource: dict[str, Any], resource_id: str | None = None, replace: bool = True
) -> tuple[ValueSet, bool]:
    """Create the value set, or replace the one with ``resource_id`` (or, when ``replace``, the same
    url and version); returns the row and whether it is new. Stored expansions are dropped."""
    resource = resources.validate("ValueSet", resource)
    return resources.upsert(
        session,
        ValueSet,
        data=resource,
        resource_id=resource_id,
        replace=replace,
        also_drop=frozenset({"expansion"}),
    )


def render(row: ValueSet) -> dict[str, Any]:
    return resources.render(row, "ValueSet")
