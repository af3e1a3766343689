"""Demo data: a programme's local outpatient diagnosis list and its mapping sheet to ICD-10
(``hub terminology load-demo``). The sheet shows the review report at work: one code is mapped
to two ICD-10 codes, one has no target, one is missing from the sheet."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.orm import Session

from terminology import codelists, icd10, mapsheet
from terminology.catalog import LoadedSystem
from terminology.models import CodeSystem

HERE = Path(__file__).parent
LOCAL_SYSTEM = "http://moh.example.org/fhir/CodeSystem/opd-diagnoses"
MAP = "http://moh.example.org/fhir/ConceptMap/opd-to-icd10"


def load_code_list(session: Session) -> CodeSystem:
    """The local outpatient diagnosis list (15 codes) as a code system."""
    return codelists.import_list(
        session,
        path=HERE / "opd-diagnoses.csv",
        url=LOCAL_SYSTEM,
        version="1",
        name="OpdDiagnoses",
        title="Outpatient diagnoses (demo programme)",
    )


def load_concept_map(session: Session, *, loaded: Mapping[str, LoadedSystem]) -> mapsheet.Report:
    """The programme's mapping sheet to ICD-10, with its review report."""
    _, report = mapsheet.import_sheet(
        session,
        loaded=loaded,
        path=HERE / "opd-to-icd10.csv",
        source_system=LOCAL_SYSTEM,
        target_system=icd10.URL,
        url=MAP,
        version="1",
        name="OpdToIcd10",
        title="Outpatient diagnoses to ICD-10",
    )
    return report
