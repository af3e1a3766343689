"""Terminology storage: code systems with their concepts, value sets, concept maps with their elements.

Each resource keeps its FHIR envelope (publisher, contact, property definitions, compose, ...) as
JSON beside the columns the hub searches on; concepts and map elements get rows of their own so
a 12,000-code classification loads in one bulk insert and reads back in one query. ``version``
is ``""`` for an unversioned resource, so ``(url, version)`` stays unique on every backend.
``revision`` grows on every change: it is the FHIR ``meta.versionId`` and what in-memory
caches compare to notice a change made by another process.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db.base import Base, BigId, JSONType, UTCDateTime, utcnow


class _Resource:
    """Columns every stored terminology resource shares."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(64), unique=True)  # the FHIR logical id
    url: Mapped[str] = mapped_column(String(1000))
    version: Mapped[str] = mapped_column(String(64), default="")
    name: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16), default="active")
    resource: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CodeSystem(_Resource, Base):
    __tablename__ = "code_systems"
    __table_args__ = (UniqueConstraint("url", "version"),)

    hierarchy_meaning: Mapped[str | None] = mapped_column(String(32))
    concepts: Mapped[list[Concept]] = relationship(
        back_populates="code_system", cascade="all, delete-orphan", passive_deletes=True
    )


class Concept(Base):
    __tablename__ = "code_system_concepts"
    __table_args__ = (
        UniqueConstraint("code_system_id", "code"),
        Index("ix_code_system_concepts_code_system_id_parent_code", "code_system_id", "parent_code"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code_system_id: Mapped[int] = mapped_column(ForeignKey("code_systems.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(255))
    display: Mapped[str | None] = mapped_column(String(1000))
    definition: Mapped[str | None] = mapped_column(Text)
    parent_code: Mapped[str | None] = mapped_column(String(255))
    position: Mapped[int] = mapped_column(Integer)  # order in the source, kept for expansions and exports
    properties: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)  # FHIR concept.property
    designations: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)

    code_system: Mapped[CodeSystem] = relationship(back_populates="concepts")


class ValueSet(_Resource, Base):
    """The definition (``compose``) lives in ``resource``; expansions are computed, never stored."""

    __tablename__ = "value_sets"
    __table_args__ = (UniqueConstraint("url", "version"),)


class ConceptMap(_Resource, Base):
    __tablename__ = "concept_maps"
    __table_args__ = (UniqueConstraint("url", "version"),)

    source_uri: Mapped[str | None] = mapped_column(String(1000))
    target_uri: Mapped[str | None] = mapped_column(String(1000))
    elements: Mapped[list[ConceptMapElement]] = relationship(
        back_populates="concept_map",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ConceptMapElement.position",
    )


class ConceptMapElement(Base):
    """One source code → one target (or no target, when ``equivalence`` is ``unmatched``)."""

    __tablename__ = "concept_map_elements"
    __table_args__ = (
        Index("ix_concept_map_elements_source", "concept_map_id", "source_system", "source_code"),
        Index("ix_concept_map_elements_target", "concept_map_id", "target_system", "target_code"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    concept_map_id: Mapped[int] = mapped_column(ForeignKey("concept_maps.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    source_system: Mapped[str] = mapped_column(String(1000))
    source_version: Mapped[str | None] = mapped_column(String(64))
    source_code: Mapped[str] = mapped_column(String(255))
    source_display: Mapped[str | None] = mapped_column(String(1000))
    target_system: Mapped[str | None] = mapped_column(String(1000))
    target_version: Mapped[str | None] = mapped_column(String(64))
    target_code: Mapped[str | None] = mapped_column(String(255))
    target_display: Mapped[str | None] = mapped_column(String(1000))
    equivalence: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)

    concept_map: Mapped[ConceptMap] = relationship(back_populates="elements")
