"""Importing terminology files: FHIR JSON resources, or spreadsheets (code lists, mapping sheets)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.orm import Session

from terminology import codelists, codesystems, conceptmaps, mapsheet, valuesets
from terminology.catalog import LoadedSystem
from terminology.errors import InvalidParameter, InvalidResource
from terminology.models import CodeSystem, ConceptMap, ValueSet

SHEETS = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise InvalidParameter(f"{path}: no such file") from exc
    except orjson.JSONDecodeError as exc:
        raise InvalidResource(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidResource(f"{path} does not hold a FHIR resource")
    return data


def import_code_system(
    session: Session,
    *,
    path: Path,
    url: str | None = None,
    version: str | None = None,
    name: str | None = None,
    title: str | None = None,
    sheet: str | None = None,
) -> CodeSystem:
    """A FHIR CodeSystem (.json) or a code list (.csv/.xlsx, which needs ``url``)."""
    if path.suffix.lower() in SHEETS:
        if not url:
            raise InvalidParameter(f"{path.name}: a code list needs the code system's url", expression="url")
        return codelists.import_list(
            session, path=path, url=url, version=version, name=name, title=title, sheet=sheet
        )
    row, _ = codesystems.save(session, resource=read_json(path))
    return row


def import_value_set(session: Session, *, path: Path) -> ValueSet:
    row, _ = valuesets.save(session, resource=read_json(path))
    return row


def import_concept_map(
    session: Session,
    *,
    loaded: Mapping[str, LoadedSystem],
    path: Path,
    source_system: str | None = None,
    target_system: str | None = None,
    url: str | None = None,
    version: str | None = None,
    name: str | None = None,
    sheet: str | None = None,
) -> tuple[ConceptMap, mapsheet.Report]:
    """A FHIR ConceptMap (.json) or a mapping sheet (.csv/.xlsx), with the review report against
    the ``loaded`` code systems (:meth:`Catalog.newest`)."""
    if path.suffix.lower() in SHEETS:
        return mapsheet.import_sheet(
            session,
            loaded=loaded,
            path=path,
            source_system=source_system,
            target_system=target_system,
            url=url,
            version=version,
            name=name,
            sheet=sheet,
        )
    row, _ = conceptmaps.save(session, resource=read_json(path))
    return row, mapsheet.analyse(loaded, conceptmaps.rows_of(session, row))
