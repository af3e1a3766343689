"""Code lists kept in spreadsheets (CSV or XLSX) imported as FHIR code systems.

Columns: ``code`` and ``display`` (required), ``definition`` and ``parent`` (optional); every other
column becomes a string property of that name. Headers are matched loosely (see ``COLUMNS``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from terminology import codesystems, tabular
from terminology.codesystems import ConceptRow
from terminology.errors import InvalidResource
from terminology.models import CodeSystem
from terminology.resources import slug

COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("code", "id", "value"),
    "display": ("display", "name", "label", "term", "title"),
    "definition": ("definition", "description"),
    "parent": ("parent", "parent code"),
}


def read(path: Path, *, sheet: str | None = None) -> tuple[list[ConceptRow], list[str]]:
    """The concepts of a code list, and the names of its extra (property) columns."""
    table = tabular.read(path, sheet=sheet)
    column = table.columns(COLUMNS)
    missing = [name for name in ("code", "display") if name not in column]
    if missing:
        raise InvalidResource(f"{path.name}: no {' or '.join(missing)} column; headers are {table.headers}")
    extra = [(i, h) for i, h in enumerate(table.headers) if i not in column.values() and h]
    concepts: list[ConceptRow] = []
    problems: list[tuple[str, str | None]] = []
    for line, cells in table.rows:
        code = cells[column["code"]]
        if not code:
            problems.append((f"{path.name} row {line}: the code is empty", f"row {line}"))
            continue
        properties = [{"code": slug(h), "valueString": cells[i]} for i, h in extra if cells[i]]
        concepts.append(
            ConceptRow(
                code=code,
                display=cells[column["display"]] or None,
                definition=cells[column["definition"]] or None if "definition" in column else None,
                parent=cells[column["parent"]] or None if "parent" in column else None,
                properties=properties or None,
            )
        )
    codes = {c.code for c in concepts}
    problems += [
        (f"{path.name}: parent {c.parent!r} of {c.code!r} is not in the list", c.code)
        for c in concepts
        if c.parent and c.parent not in codes
    ]
    if problems:
        raise InvalidResource(
            f"{len(problems)} problem(s) in {path.name}; first: {problems[0][0]}", issues=problems
        )
    return concepts, [slug(h) for _, h in extra]


def import_list(
    session: Session,
    *,
    path: Path,
    url: str,
    version: str | None = None,
    name: str | None = None,
    title: str | None = None,
    sheet: str | None = None,
) -> CodeSystem:
    """Store the list as code system ``url|version`` (replacing that version if it exists)."""
    concepts, properties = read(path, sheet=sheet)
    name = name or slug(path.stem)
    resource: dict[str, Any] = {
        "resourceType": "CodeSystem",
        "url": url,
        "name": name,
        "title": title or name,
        "status": "active",
        "content": "complete",
    }
    if version:
        resource["version"] = version
    if any(c.parent for c in concepts):
        resource["hierarchyMeaning"] = "is-a"
    if properties:
        resource["property"] = [{"code": p, "type": "string"} for p in properties]
    row, _ = codesystems.save(session, resource=resource, concepts=concepts)
    return row
