"""The mapping-sheet workflow: programmes keep "local code → standard code" in a spreadsheet;
the hub imports it as a versioned ConceptMap, reports what is unmapped, ambiguous or wrong, and
exports it back in the same shape.

A sheet needs a source code column and, for mapped rows, a target code; headers are matched
loosely ("Local code", "ICD-10 code", "source_code" …, see ``COLUMNS``). Systems come from
``source system`` / ``target system`` columns or from the importer's defaults. An empty
equivalence means ``equivalent`` when there is a target and ``unmatched`` when there is none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from terminology import conceptmaps, tabular
from terminology.catalog import LoadedSystem
from terminology.conceptmaps import EQUIVALENCES, NO_MATCH, MapRow
from terminology.errors import FhirError, InvalidResource
from terminology.models import ConceptMap
from terminology.resources import CANONICAL_BASE, slug

COLUMNS: dict[str, tuple[str, ...]] = {
    "source_system": ("source system", "local system", "from system"),
    "source_code": ("source code", "local code", "from code", "code", "source"),
    "source_display": ("source display", "source name", "local name", "local term", "local display", "name"),
    "target_system": ("target system", "standard system", "to system"),
    "target_code": (
        "target code",
        "standard code",
        "icd-10 code",
        "icd10 code",
        "icd code",
        "to code",
        "target",
    ),
    "target_display": (
        "target display",
        "target name",
        "standard name",
        "icd-10 name",
        "icd-10 display",
        "icd name",
    ),
    "equivalence": ("equivalence", "relationship", "map type", "match type", "match"),
    "comment": ("comment", "comments", "note", "notes", "remarks"),
}
EXPORT_COLUMNS = tuple(COLUMNS)
EQUIVALENCE_WORDS = {
    "exact": "equivalent",
    "same": "equivalent",
    "=": "equivalent",
    "related": "relatedto",
    "related to": "relatedto",
    "broader": "wider",
    "partial": "inexact",
    "no match": "unmatched",
    "none": "unmatched",
}


@dataclass
class Report:
    """What a reviewer of the mapping sheet needs to act on."""

    rows: int = 0
    source_codes: int = 0
    mapped: int = 0
    unmapped: list[str] = field(default_factory=list)  # source codes with no usable target
    ambiguous: dict[str, list[str]] = field(default_factory=dict)  # source code → its several targets
    unknown_targets: list[tuple[str, str]] = field(
        default_factory=list
    )  # (source, target not in the target system)
    unknown_sources: list[str] = field(default_factory=list)  # source codes not in the (loaded) source system
    missing: list[str] = field(default_factory=list)  # codes of the (loaded) source system with no row
    duplicates: int = 0  # rows repeating a source → target pair already seen
    unchecked_systems: list[str] = field(default_factory=list)  # systems the hub has not loaded

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read(
    path: Path, *, source_system: str | None, target_system: str | None, sheet: str | None = None
) -> tuple[list[MapRow], int]:
    """The sheet's rows as mappings, and how many duplicate rows were dropped."""
    table = tabular.read(path, sheet=sheet)
    column = table.columns(COLUMNS)
    if "source_code" not in column:
        wanted = ", ".join(repr(n) for n in COLUMNS["source_code"])
        raise InvalidResource(
            f"{path.name}: no source code column (one of {wanted}); headers are {table.headers}"
        )
    problems: list[tuple[str, str | None]] = []
    rows: list[MapRow] = []
    seen: set[tuple[str, str, str | None, str | None]] = set()
    duplicates = 0
    for line, cells in table.rows:
        value = {name: cells[i] or None for name, i in column.items()}
        where = f"{path.name} row {line}"
        try:
            row = _row(value, source_system=source_system, target_system=target_system, where=where)
        except FhirError as exc:
            problems.append((exc.detail, where))
            continue
        key = (row.source_system, row.source_code, row.target_system, row.target_code)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        rows.append(row)
    if problems:
        raise InvalidResource(
            f"{path.name}: {len(problems)} row(s) cannot be imported; first: {problems[0][0]}",
            issues=problems,
        )
    return rows, duplicates


def _row(
    value: dict[str, str | None], *, source_system: str | None, target_system: str | None, where: str
) -> MapRow:
    source = value.get("source_system") or source_system
    target = value.get("target_system") or target_system
    code, target_code = value.get("source_code"), value.get("target_code")
    if not code:
        raise InvalidResource(f"{where}: the source code is empty")
    if not source:
        raise InvalidResource(f"{where}: no source system (add a source system column or give one)")
    if target_code and not target:
        raise InvalidResource(f"{where}: no target system (add a target system column or give one)")
    word = (value.get("equivalence") or "").strip().casefold()
    equivalence = EQUIVALENCE_WORDS.get(word, word) or ("equivalent" if target_code else "unmatched")
    if equivalence not in EQUIVALENCES:
        raise InvalidResource(
            f"{where}: equivalence {value['equivalence']!r} is not one of {', '.join(EQUIVALENCES)}"
        )
    if target_code and equivalence == "unmatched":
        raise InvalidResource(f"{where}: a row with target {target_code!r} cannot be unmatched")
    return MapRow(
        source_system=source,
        source_code=code,
        source_display=value.get("source_display"),
        target_system=target,
        target_code=target_code,
        target_display=value.get("target_display"),
        equivalence=equivalence,
        comment=value.get("comment"),
    )


def analyse(loaded: Mapping[str, LoadedSystem], rows: Sequence[MapRow], *, duplicates: int = 0) -> Report:
    """Unmapped, ambiguous and unknown codes among ``rows``, checked against the ``loaded`` code
    systems (:meth:`Catalog.newest`)."""
    report = Report(rows=len(rows) + duplicates, duplicates=duplicates)
    targets: dict[tuple[str, str], list[str]] = defaultdict(list)
    unchecked: set[str] = set()
    for row in rows:
        usable = targets[(row.source_system, row.source_code)]
        if row.target_code and row.equivalence not in NO_MATCH:
            if row.target_code not in usable:
                usable.append(row.target_code)
            system = loaded.get(row.target_system or "")
            if system is None:
                unchecked.add(row.target_system or "")
            elif system.concept(row.target_code) is None:
                report.unknown_targets.append((row.source_code, row.target_code))
        source = loaded.get(row.source_system)
        if source is None:
            unchecked.add(row.source_system)
        elif source.concept(row.source_code) is None and row.source_code not in report.unknown_sources:
            report.unknown_sources.append(row.source_code)
    report.source_codes = len(targets)
    for (_, code), usable in targets.items():
        if not usable:
            report.unmapped.append(code)
        elif len(usable) > 1:
            report.ambiguous[code] = usable
    report.mapped = report.source_codes - len(report.unmapped)
    for url in {row.source_system for row in rows}:
        if url in loaded:
            report.missing += [e.code for e in loaded[url].entries if (url, e.code) not in targets]
    report.unchecked_systems = sorted(unchecked)
    return report


def import_sheet(
    session: Session,
    *,
    loaded: Mapping[str, LoadedSystem],
    path: Path,
    source_system: str | None = None,
    target_system: str | None = None,
    url: str | None = None,
    version: str | None = None,
    name: str | None = None,
    title: str | None = None,
    sheet: str | None = None,
) -> tuple[ConceptMap, Report]:
    """Store the sheet as ConceptMap ``url|version`` (replacing that version if it exists) and
    report on it against the ``loaded`` code systems."""
    rows, duplicates = read(path, source_system=source_system, target_system=target_system, sheet=sheet)
    name = name or slug(path.stem)
    resource: dict[str, Any] = {
        "resourceType": "ConceptMap",
        "url": url or f"{CANONICAL_BASE}/ConceptMap/{slug(name)}",
        "name": name,
        "title": title or name,
        "status": "active",
    }
    if version:
        resource["version"] = version
    if source_system:
        resource["sourceUri"] = source_system
    if target_system:
        resource["targetUri"] = target_system
    row, _ = conceptmaps.save(session, resource=resource, rows=rows)
    return row, analyse(loaded, rows, duplicates=duplicates)


def export_sheet(session: Session, concept_map: ConceptMap, *, path: Path) -> int:
    """Write the map as a CSV or XLSX sheet that :func:`import_sheet` reads back; returns the rows."""
    rows = conceptmaps.rows_of(session, concept_map)
    tabular.write(path, EXPORT_COLUMNS, ([getattr(r, c) or "" for c in EXPORT_COLUMNS] for r in rows))
    return len(rows)
