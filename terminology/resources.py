"""What CodeSystem, ValueSet and ConceptMap share: FHIR R4 validation, logical ids, the stored
envelope, rendering with ``meta``, and search by url, version, name and status."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from fhir.resources.R4B.codesystem import CodeSystem as FhirCodeSystem
from fhir.resources.R4B.conceptmap import ConceptMap as FhirConceptMap
from fhir.resources.R4B.valueset import ValueSet as FhirValueSet
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from terminology.catalog import mark_changed
from terminology.errors import DuplicateResource, InvalidResource, UnknownResource
from terminology.models import CodeSystem, ConceptMap, ValueSet

Row = TypeVar("Row", CodeSystem, ValueSet, ConceptMap)

# canonical urls of the resources the hub itself defines (e.g. the ICD-10 codes value set)
CANONICAL_BASE = "http://hub.terminology.local/fhir"
MODELS = {"CodeSystem": FhirCodeSystem, "ValueSet": FhirValueSet, "ConceptMap": FhirConceptMap}
STATUSES = ("draft", "active", "retired", "unknown")
# kept in columns or rebuilt on every read, so not duplicated in the stored envelope
NOT_IN_ENVELOPE = frozenset(
    {"resourceType", "id", "meta", "text", "url", "version", "name", "title", "status"}
)
_NOT_ID_CHAR = re.compile(r"[^A-Za-z0-9.-]+")
FHIR_ID = re.compile(r"^[A-Za-z0-9.-]{1,64}$")
# the lengths of the columns the envelope is kept in (models.py): PostgreSQL refuses a longer value,
# SQLite would keep it, so both refuse it here
MAX_LENGTHS = {"url": 1000, "version": 64, "name": 255, "title": 1000}


def validate(resource_type: str, data: Any) -> dict[str, Any]:
    """``data`` checked against the FHIR R4 model of ``resource_type``; returned as given."""
    if not isinstance(data, dict) or data.get("resourceType") != resource_type:
        found = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise InvalidResource(
            f"expected a {resource_type} resource, got {found!r}", expression="resourceType"
        )
    try:
        MODELS[resource_type].model_validate(data)
    except ValidationError as exc:
        issues = [(e["msg"], ".".join([resource_type, *map(str, e["loc"])])) for e in exc.errors()]
        first, where = issues[0]
        raise InvalidResource(
            f"the {resource_type} is not valid FHIR R4 ({len(issues)} problem(s)); {where}: {first}",
            issues=issues,
        ) from exc
    if not data.get("url"):
        raise InvalidResource(
            f"{resource_type}.url is required by this server", expression=f"{resource_type}.url"
        )
    for field, most in MAX_LENGTHS.items():
        if len(data.get(field) or "") > most:
            raise InvalidResource(
                f"{resource_type}.{field} is longer than this server keeps ({most} characters)",
                expression=f"{resource_type}.{field}",
            )
    if data.get("status") not in STATUSES:
        raise InvalidResource(
            f"{resource_type}.status must be one of {', '.join(STATUSES)}",
            expression=f"{resource_type}.status",
        )
    return data


def check_lengths(model: type[Any], values: Mapping[str, Any], where: str, expression: str) -> None:
    """InvalidResource when a text of ``values`` is longer than its column of ``model`` keeps:
    PostgreSQL refuses it (a 400 by then, but only once its batch is sent), and SQLite would
    store it whole."""
    columns = model.__table__.c
    for field, value in values.items():
        most = getattr(columns[field].type, "length", None)
        if isinstance(value, str) and most is not None and len(value) > most:
            raise InvalidResource(
                f"{where}: {field} is longer than this server keeps ({most} characters)",
                expression=expression,
            )


def slug(text: str) -> str:
    """A FHIR logical id made from a name or url."""
    return _NOT_ID_CHAR.sub("-", text).strip("-.")[:64] or "resource"


def _id_taken(session: Session, model: type[Row], resource_id: str) -> bool:
    return session.scalar(select(model.id).where(model.resource_id == resource_id)) is not None


def new_resource_id(session: Session, model: type[Row], *, data: dict[str, Any]) -> str:
    """The resource's own id when free; else one made from its name (or url) and version."""
    wanted = data.get("id")
    if wanted and FHIR_ID.match(wanted) and not _id_taken(session, model, wanted):
        return wanted
    base = slug(wanted or data.get("name") or data["url"].rstrip("/").rsplit("/", 1)[-1])
    candidates = [base, slug(f"{base}-{data.get('version')}")] if data.get("version") else [base]
    candidates += [slug(f"{candidates[-1]}-{n}") for n in range(2, 1000)]
    return next(c for c in candidates if not _id_taken(session, model, c))


def fill(row: Row, data: dict[str, Any], *, also_drop: frozenset[str] = frozenset()) -> None:
    """Copy a validated resource's searchable fields into ``row`` and keep the rest as its envelope."""
    row.url = data["url"]
    row.version = data.get("version") or ""
    row.name = data.get("name")
    row.title = data.get("title")
    row.status = data["status"]
    row.resource = {k: v for k, v in data.items() if k not in NOT_IN_ENVELOPE | also_drop}


def check_unique(
    session: Session, model: type[Row], *, url: str, version: str, pk: int | None = None
) -> None:
    clash = session.scalar(select(model).where(model.url == url, model.version == version))
    if clash is not None and clash.id != pk:
        shown = f"{url}|{version}" if version else url
        raise DuplicateResource(
            f"{model.__name__} {shown} already exists as id {clash.resource_id!r}; update that one instead",
            expression=f"{model.__name__}.url",
        )


def upsert(
    session: Session,
    model: type[Row],
    *,
    data: dict[str, Any],
    resource_id: str | None,
    replace: bool,
    also_drop: frozenset[str] = frozenset(),
) -> tuple[Row, bool]:
    """The row for a validated resource: the one with ``resource_id``, else (when ``replace``) the
    one with the same url and version, else a new one. Returns it filled and whether it is new."""
    row = None
    if resource_id:
        row = session.scalar(select(model).where(model.resource_id == resource_id))
    elif replace:
        row = session.scalar(
            select(model).where(model.url == data["url"], model.version == (data.get("version") or ""))
        )
    check_unique(
        session, model, url=data["url"], version=data.get("version") or "", pk=row.id if row else None
    )
    created = row is None
    if row is None:
        row = model(resource_id=resource_id or new_resource_id(session, model, data=data), revision=1)
        session.add(row)
    else:
        row.revision += 1
    fill(row, data, also_drop=also_drop)
    session.flush()
    mark_changed(session)
    return row, created


def get(session: Session, model: type[Row], resource_id: str) -> Row:
    row = session.scalar(select(model).where(model.resource_id == resource_id))
    if row is None:
        raise UnknownResource(f"no {model.__name__} with id {resource_id!r}")
    return row


def search(
    session: Session,
    model: type[Row],
    *,
    resource_id: str | None = None,
    url: str | None = None,
    version: str | None = None,
    name: str | None = None,
    status: str | None = None,
) -> list[Row]:
    """Rows matching every given criterion (``name`` matches the start of name or title, any case)."""
    query = select(model).order_by(model.url, model.version)
    if resource_id is not None:
        query = query.where(model.resource_id == resource_id)
    if url is not None:
        query = query.where(model.url == url)
    if version is not None:
        query = query.where(model.version == version)
    if status is not None:
        query = query.where(model.status == status)
    if name is not None:
        query = query.where(model.name.istartswith(name) | model.title.istartswith(name))
    return list(session.scalars(query))


def render(row: Row, resource_type: str) -> dict[str, Any]:
    """The stored resource as FHIR JSON, without its concepts, compose or groups."""
    body: dict[str, Any] = {
        "resourceType": resource_type,
        "id": row.resource_id,
        "meta": {"versionId": str(row.revision), "lastUpdated": row.updated_at.isoformat()},
        "url": row.url,
    }
    if row.version:
        body["version"] = row.version
    body.update({k: v for k, v in (("name", row.name), ("title", row.title)) if v})
    body["status"] = row.status
    body.update(row.resource)
    return body
