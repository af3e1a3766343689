"""Lookups on the cache for data value imports: id schemes to UIDs, org unit subtrees.

Example::

    scheme = IdScheme.parse("attribute:uh6H2ff562G")
    uids = resolve(session, model=DataElement, scheme=scheme, identifiers={"DE1", "DE2"})
    # {"DE1": "fbfJHSPpUQD", ...}; identifiers that match nothing are absent
    inside = org_units_within(session, uids={"DiszpKrYNg8"}, roots=principal.org_units)
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.dhis2.metadata import models
from hub.dhis2.metadata.schema import OBJECT_TYPES

_TYPE_NAMES: dict[type[models.Identifiable], str] = {t.model: t.simple_name for t in OBJECT_TYPES}


@dataclass(frozen=True)
class IdScheme:
    """``uid``, ``code``, ``name`` or ``attribute:<UID>`` (any case, as DHIS2 accepts)."""

    kind: Literal["uid", "code", "name", "attribute"]
    attribute: str | None = None

    @classmethod
    def parse(cls, value: str | None, default: IdScheme | None = None) -> IdScheme:
        """The scheme ``value`` names; ``default`` (uid) when empty. ValueError if unknown."""
        if not value:
            return default or UID_SCHEME
        kind, _, attribute = value.partition(":")
        kind = kind.lower()
        if kind == "attribute" and attribute:
            return cls("attribute", attribute)
        if kind in ("uid", "code", "name") and not attribute:
            return cls(kind)  # type: ignore[arg-type]
        raise ValueError(f"unknown id scheme {value!r}: use uid, code, name or attribute:<UID>")


UID_SCHEME = IdScheme("uid")


def resolve(
    session: Session, *, model: type[models.Identifiable], scheme: IdScheme, identifiers: Collection[str]
) -> dict[str, str]:
    """identifier -> UID for each identifier of ``model`` objects that the cache knows under ``scheme``."""
    if not identifiers:
        return {}
    if scheme.kind == "attribute":
        av = models.AttributeValue
        query = select(av.value, av.object_uid).where(
            av.object_type == _TYPE_NAMES[model],
            av.attribute_uid == scheme.attribute,
            av.value.in_(identifiers),
        )
    else:
        column = {"uid": model.uid, "code": model.code, "name": model.name}[scheme.kind]
        query = select(column, model.uid).where(column.in_(identifiers))
    found: dict[str, str] = {}
    for identifier, uid in session.execute(query):
        found.setdefault(identifier, uid)
    return found


def org_units_within(session: Session, *, uids: Collection[str], roots: Collection[str]) -> set[str]:
    """The org units among ``uids`` that are one of ``roots`` or lie below one of them."""
    if not uids or not roots:
        return set()
    org_unit = models.OrgUnit
    root_paths = [p for p in session.scalars(select(org_unit.path).where(org_unit.uid.in_(roots))) if p]
    if not root_paths:
        return set()
    inside = or_(
        *[or_(org_unit.path == p, org_unit.path.startswith(f"{p}/", autoescape=True)) for p in root_paths]
    )
    return set(session.scalars(select(org_unit.uid).where(org_unit.uid.in_(uids), inside)))
