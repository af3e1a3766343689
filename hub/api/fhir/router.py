"""The FHIR R4 terminology API under ``/fhir``. Only terminology paths are claimed: any other
``/fhir/...`` request still reaches the channel gateway (e.g. a FHIR server behind a channel)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from hub.api.fhir import capability, codesystem, conceptmap, crud, valueset
from hub.api.fhir.outcome import FhirRoute
from terminology import codesystems, conceptmaps, valuesets
from terminology.models import CodeSystem, ConceptMap, ValueSet

router = APIRouter(prefix="/fhir")
router.include_router(capability.router)
# operations first: "/CodeSystem/$lookup" must not be read as the id "$lookup"
router.include_router(codesystem.router)
router.include_router(valueset.router)
router.include_router(conceptmap.router)


def _value_set(_session: Session, row: ValueSet) -> dict[str, Any]:
    return valuesets.render(row)


def _code_system_summary(session: Session, row: CodeSystem) -> dict[str, Any]:
    return codesystems.render(session, row, concepts=False)


RESOURCE_TYPES = (
    crud.ResourceType("CodeSystem", CodeSystem, codesystems.save, codesystems.render, _code_system_summary),
    crud.ResourceType("ValueSet", ValueSet, valuesets.save, _value_set, _value_set),
    crud.ResourceType("ConceptMap", ConceptMap, conceptmaps.save, conceptmaps.render, conceptmaps.render),
)
resource_routes = APIRouter(tags=["FHIR terminology"], route_class=FhirRoute)
for resource_type in RESOURCE_TYPES:
    crud.add_routes(resource_routes, resource_type)
router.include_router(resource_routes)
