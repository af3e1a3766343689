"""Operation results as FHIR R4 JSON: ``Parameters`` for $lookup, $validate-code, $subsumes and
$translate, a ``ValueSet`` with its ``expansion`` for $expand.

Built as plain dicts (the hot path answers thousands of lookups a second); the tests check every
shape against the fhir.resources R4B models.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from terminology.catalog import Entry, LoadedSystem
from terminology.expand import Expansion
from terminology.operations import LookupResult, ValidationResult
from terminology.translate import Translation


def parameters(*pairs: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [{"name": name, **value} for name, value in pairs]}


def lookup(result: LookupResult) -> dict[str, Any]:
    system, entry = result.system, result.entry
    pairs: list[tuple[str, dict[str, Any]]] = [("name", {"valueString": system.name or system.url})]
    if system.version:
        pairs.append(("version", {"valueString": system.version}))
    if entry.display:
        pairs.append(("display", {"valueString": entry.display}))
    if entry.definition:
        pairs.append(("definition", {"valueString": entry.definition}))
    for designation in entry.designations:
        part = [{"name": "value", "valueString": designation.get("value", "")}]
        if designation.get("language"):
            part.insert(0, {"name": "language", "valueCode": designation["language"]})
        if designation.get("use"):
            part.insert(-1, {"name": "use", "valueCoding": designation["use"]})
        pairs.append(("designation", {"part": part}))
    for code, value in result.properties:
        pairs.append(
            ("property", {"part": [{"name": "code", "valueCode": code}, {"name": "value", **value}]})
        )
    return parameters(*pairs)


def validation(result: ValidationResult) -> dict[str, Any]:
    pairs: list[tuple[str, dict[str, Any]]] = [("result", {"valueBoolean": result.result})]
    if result.message:
        pairs.append(("message", {"valueString": result.message}))
    if result.display:
        pairs.append(("display", {"valueString": result.display}))
    if result.code:
        pairs.append(("code", {"valueCode": result.code}))
    if result.system:
        pairs.append(("system", {"valueUri": result.system.url}))
        if result.system.version:
            pairs.append(("version", {"valueString": result.system.version}))
    return parameters(*pairs)


def subsumption(outcome: str) -> dict[str, Any]:
    return parameters(("outcome", {"valueCode": outcome}))


def translation(result: Translation) -> dict[str, Any]:
    pairs: list[tuple[str, dict[str, Any]]] = [("result", {"valueBoolean": result.result})]
    if result.message:
        pairs.append(("message", {"valueString": result.message}))
    for match in result.matches:
        part: list[dict[str, Any]] = [{"name": "equivalence", "valueCode": match.equivalence}]
        if match.code:
            coding = {
                k: v
                for k, v in (("system", match.system), ("code", match.code), ("display", match.display))
                if v
            }
            part.append({"name": "concept", "valueCoding": coding})
        part.append({"name": "source", "valueUri": match.source})
        pairs.append(("match", {"part": part}))
    return parameters(*pairs)


def _contains(system: LoadedSystem, entry: Entry, *, designations: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"system": system.url}
    if system.version:
        item["version"] = system.version
    if True in entry.property_values("notSelectable"):
        item["abstract"] = True
    item["code"] = entry.code
    if entry.display:
        item["display"] = entry.display
    if designations and entry.designations:
        item["designation"] = list(entry.designations)
    return item


def expansion(
    result: Expansion, *, text: str | None, count: int | None, designations: bool = False
) -> dict[str, Any]:
    definition = result.definition
    body: dict[str, Any] = {"resourceType": "ValueSet"}
    if definition.stored is not None:
        body["id"] = definition.stored.resource_id
    for key in ("url", "version", "name", "title"):
        value = definition.resource.get(key) or getattr(definition, key, None)
        if value:
            body[key] = value
    body["status"] = definition.resource.get("status", "active")
    used: list[dict[str, Any]] = []
    if text:
        used.append({"name": "filter", "valueString": text})
    if count is not None:
        used.append({"name": "count", "valueInteger": count})
    used.append({"name": "offset", "valueInteger": result.offset})
    used += [
        {"name": "used-codesystem", "valueUri": f"{s.url}|{s.version}" if s.version else s.url}
        for s in result.systems
    ]
    body["expansion"] = {
        "identifier": f"urn:uuid:{uuid.uuid4()}",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "total": result.total,
        "offset": result.offset,
        "parameter": used,
        "contains": [_contains(s, e, designations=designations) for s, e in result.items],
    }
    if not body["expansion"]["contains"]:
        del body["expansion"]["contains"]
    return body
