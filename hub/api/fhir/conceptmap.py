"""ConceptMap $translate, forward (local → standard) and reverse, at type and instance level."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from hub.api.deps import SessionDep
from hub.api.fhir import render
from hub.api.fhir.codesystem import code_and_system
from hub.api.fhir.deps import ReaderDep
from hub.api.fhir.outcome import FhirResponse, FhirRoute
from hub.api.fhir.params import OperationInput, get_and_post, operation
from terminology import conceptmaps, resources, translate
from terminology.errors import InvalidParameter, MissingParameter, NotSupported
from terminology.models import ConceptMap

router = APIRouter(tags=["FHIR terminology"], route_class=FhirRoute)

TRANSLATE = (
    "url",
    "conceptMap",
    "conceptMapVersion",
    "code",
    "system",
    "version",
    "source",
    "coding",
    "codeableConcept",
    "target",
    "targetsystem",
    "dependency",
    "reverse",
)
TranslateInput = Annotated[OperationInput, Depends(operation("$translate", TRANSLATE))]


def _translate(session: Session, given: OperationInput, resource_id: str | None) -> FhirResponse:
    for unsupported in ("conceptMap", "dependency"):
        if given.one(unsupported) is not None:
            raise NotSupported(f"$translate: {unsupported} is not supported", expression=unsupported)
    concept_map: ConceptMap | None = None
    if resource_id is not None:
        concept_map = resources.get(session, ConceptMap, resource_id)
    elif given.text("url") is not None:
        concept_map = conceptmaps.find(
            session, url=given.required("url"), version=given.text("conceptMapVersion")
        )
    concept = given.one("codeableConcept")
    if concept is not None:
        codings = concept.get("coding", []) if isinstance(concept, dict) else []
        if len(codings) != 1:
            raise InvalidParameter(
                "$translate: codeableConcept must hold exactly one coding", expression="codeableConcept"
            )
        code, system = codings[0].get("code"), codings[0].get("system")
    else:
        code, system, _ = code_and_system(given, code="code", coding="coding")
    if not code or not system:
        raise MissingParameter("$translate: system is required with code", expression="system")
    result = translate.translate(
        session,
        code=code,
        system=system,
        concept_map=concept_map,
        target_system=given.text("targetsystem"),
        source_scope=given.text("source"),
        target_scope=given.text("target"),
        reverse=bool(given.boolean("reverse")),
    )
    return FhirResponse(render.translation(result))


@get_and_post(router, "/ConceptMap/$translate", summary="ConceptMap $translate")
def translate_type(_: ReaderDep, given: TranslateInput, session: SessionDep) -> FhirResponse:
    return _translate(session, given, None)


@get_and_post(router, "/ConceptMap/{resource_id}/$translate", summary="ConceptMap $translate (instance)")
def translate_instance(
    resource_id: str, _: ReaderDep, given: TranslateInput, session: SessionDep
) -> FhirResponse:
    return _translate(session, given, resource_id)
