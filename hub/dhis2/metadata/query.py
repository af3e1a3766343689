"""Reading the cache the way DHIS2's list endpoints do: ``filter=prop:op:value``, ``order=``, paging.

Example::

    page = list_objects(
        session, object_type=ORG_UNITS, filters=["level:eq:4", "name:ilike:ngel"], page=1, page_size=50
    )
    page.total, [ORG_UNITS.to_wire(row) for row in page.rows]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload

from hub.dhis2.metadata.schema import ObjectType, parse_timestamp

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 10_000
MAX_INTEGER = 2**63 - 1  # both databases' integers are 64-bit at most, as their drivers' parameters
MAX_PAGE = MAX_INTEGER // MAX_PAGE_SIZE  # so any page's offset is one too


class QueryError(ValueError):
    """A filter or order the caller got wrong; its message says how."""


@dataclass(frozen=True)
class Page:
    rows: Sequence[Any]
    total: int


def _coerce(column: InstrumentedAttribute[Any], value: str) -> Any:
    kind = column.type.python_type
    try:
        if kind is bool:
            if value.lower() not in ("true", "false"):
                raise ValueError(value)
            return value.lower() == "true"
        if kind is datetime:
            return parse_timestamp(value)
        if kind is date:
            return date.fromisoformat(value[:10])
        if kind is int and not -MAX_INTEGER - 1 <= int(value) <= MAX_INTEGER:
            raise ValueError(value)  # no column holds it, and the driver would refuse to send it
        return kind(value)
    except ValueError as exc:
        raise QueryError(f"value `{value}` does not fit property `{column.key}`") from exc


def _contains(column: Any, value: str, *, insensitive: bool, where: str = "any") -> ColumnElement[bool]:
    if insensitive:
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = {"any": "%{}%", "start": "{}%", "end": "%{}"}[where].format(escaped)
        return column.ilike(pattern, escape="\\")
    # SQLite's LIKE ignores case, so case-sensitive matching goes through a regex on both databases
    regex = {"any": "{}", "start": "^{}", "end": "{}$"}[where].format(re.escape(value))
    return column.regexp_match(regex)


def _in(column: Any, value: str) -> ColumnElement[bool]:
    items = [v.strip() for v in value.strip().removeprefix("[").removesuffix("]").split(",") if v.strip()]
    return column.in_([_coerce(column, v) for v in items])


_BINARY: dict[str, Callable[[Any, str], ColumnElement[bool]]] = {
    "eq": lambda c, v: c == _coerce(c, v),
    "ieq": lambda c, v: func.lower(c) == v.lower(),
    "ne": lambda c, v: c != _coerce(c, v),
    "neq": lambda c, v: c != _coerce(c, v),
    "!eq": lambda c, v: c != _coerce(c, v),
    "gt": lambda c, v: c > _coerce(c, v),
    "ge": lambda c, v: c >= _coerce(c, v),
    "lt": lambda c, v: c < _coerce(c, v),
    "le": lambda c, v: c <= _coerce(c, v),
    "like": lambda c, v: _contains(c, v, insensitive=False),
    "!like": lambda c, v: not_(_contains(c, v, insensitive=False)),
    "ilike": lambda c, v: _contains(c, v, insensitive=True),
    "!ilike": lambda c, v: not_(_contains(c, v, insensitive=True)),
    "$like": lambda c, v: _contains(c, v, insensitive=False, where="start"),
    "startsWith": lambda c, v: _contains(c, v, insensitive=False, where="start"),
    "$ilike": lambda c, v: _contains(c, v, insensitive=True, where="start"),
    "like$": lambda c, v: _contains(c, v, insensitive=False, where="end"),
    "endsWith": lambda c, v: _contains(c, v, insensitive=False, where="end"),
    "ilike$": lambda c, v: _contains(c, v, insensitive=True, where="end"),
    "in": _in,
    "!in": lambda c, v: not_(_in(c, v)),
}
_UNARY: dict[str, Callable[[Any], ColumnElement[bool]]] = {
    "null": lambda c: c.is_(None),
    "!null": lambda c: c.is_not(None),
    "empty": lambda c: or_(c.is_(None), c == ""),
}


def _column(object_type: ObjectType, prop: str) -> InstrumentedAttribute[Any]:
    attribute = object_type.properties.get(prop)
    if attribute is None:
        known = ", ".join(sorted(object_type.properties))
        raise QueryError(f"Unknown path property: `{prop}` on {object_type.simple_name} (known: {known})")
    return getattr(object_type.model, attribute)


def parse_filter(object_type: ObjectType, text: str) -> ColumnElement[bool]:
    """One ``prop:op[:value]`` filter as a SQL condition."""
    prop, _, rest = text.partition(":")
    op, _, value = rest.partition(":")
    column = _column(object_type, prop)
    if op in _UNARY:
        return _UNARY[op](column)
    if op in _BINARY and rest.count(":") >= 1:
        return _BINARY[op](column, value)
    raise QueryError(f"Invalid filter `{text}`: expected property:operator:value with a known operator")


def _order(object_type: ObjectType, order: str | None) -> list[Any]:
    clauses = []
    for part in (order or "name:asc").split(","):
        prop, _, direction = part.strip().partition(":")
        column = _column(object_type, prop)
        clauses.append(column.desc() if direction.lower().startswith("desc") else column.asc())
    return [*clauses, object_type.model.uid]


def list_objects(
    session: Session,
    *,
    object_type: ObjectType,
    filters: Sequence[str] = (),
    root_junction: str = "AND",
    order: str | None = None,
    page: int = 1,
    page_size: int | None = DEFAULT_PAGE_SIZE,
) -> Page:
    """The objects matching every filter (any, with ``root_junction="OR"``); ``page_size=None`` for all."""
    model = object_type.model
    conditions = [parse_filter(object_type, f) for f in filters]
    where = (or_ if root_junction.upper() == "OR" else and_)(*conditions) if conditions else None
    query = select(model).options(*(selectinload(getattr(model, name)) for name in object_type.loads))
    counted = select(func.count()).select_from(model)
    if where is not None:
        query, counted = query.where(where), counted.where(where)
    query = query.order_by(*_order(object_type, order))
    if page_size is not None:
        query = query.offset((page - 1) * page_size).limit(page_size)
    rows = session.scalars(query).all()
    total = session.scalar(counted) if page_size is not None else len(rows)
    return Page(rows, total or 0)


def get_object(session: Session, *, object_type: ObjectType, uid: str) -> Any | None:
    """One object by UID, with what its wire form needs loaded; None if the cache lacks it."""
    model = object_type.model
    query = select(model).where(model.uid == uid)
    return session.scalars(
        query.options(*(selectinload(getattr(model, n)) for n in object_type.loads))
    ).first()
