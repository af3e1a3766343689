"""Importing code systems: FHIR CodeSystem JSON (iHRIS), and code lists in CSV and XLSX."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fhir.resources.R4B.codesystem import CodeSystem as FhirCodeSystem
from openpyxl import Workbook

from hub.db.session import Database
from terminology import codesystems, files
from terminology.catalog import Catalog
from terminology.errors import DuplicateResource, InvalidParameter, InvalidResource
from terminology.operations import lookup

JOB = "http://ihris.org/fhir/CodeSystem/ihris-job"
WARDS = "http://moh.example.org/fhir/CodeSystem/wards"


def test_ihris_code_systems_import_and_render_back(db: Database, shared_data: Path) -> None:
    paths = sorted((shared_data / "ihris").glob("CodeSystem-*.json"))
    assert len(paths) == 5
    for path in paths:
        source = json.loads(path.read_text())
        with db.session() as session:
            row = files.import_code_system(session, path=path)
            rendered = codesystems.render(session, row)
        FhirCodeSystem.model_validate(rendered)
        assert rendered["id"] == source["id"] and rendered["url"] == source["url"], path.name
        assert rendered["concept"] == source["concept"], path.name
        assert rendered["count"] == len(source["concept"]), path.name


def test_concept_properties_come_back_from_lookup(db: Database, catalog: Catalog, shared_data: Path) -> None:
    with db.session() as session:
        files.import_code_system(session, path=shared_data / "ihris" / "CodeSystem-ihris-job.json")
    result = lookup(catalog.system(JOB), "1231-1C")
    assert result.entry.display == "Manager"
    assert (
        "classification",
        {
            "valueCoding": {
                "code": "non-health",
                "system": "http://ihris.org/fhir/CodeSystem/ihris-classification",
            }
        },
    ) in result.properties


def test_importing_the_same_version_again_replaces_it(db: Database, shared_data: Path) -> None:
    path = shared_data / "ihris" / "CodeSystem-ihris-cadre.json"
    with db.session() as session:
        first = files.import_code_system(session, path=path)
        again = files.import_code_system(session, path=path)
    assert again.id == first.id and again.revision == 2


def test_nested_concepts_become_parents(db: Database, catalog: Catalog) -> None:
    resource = {
        "resourceType": "CodeSystem",
        "url": WARDS,
        "status": "active",
        "content": "complete",
        "concept": [
            {"code": "MED", "display": "Medicine", "concept": [{"code": "MED-M", "display": "Male medical"}]},
            {"code": "SUR", "display": "Surgery", "property": [{"code": "parent", "valueCode": "MED"}]},
        ],
    }
    with db.session() as session:
        row, created = codesystems.save(session, resource=resource)
        tree = codesystems.concept_tree(session, row)
    assert created
    assert [c["code"] for c in tree] == ["MED"]
    assert [c["code"] for c in tree[0]["concept"]] == ["MED-M", "SUR"]
    assert catalog.system(WARDS).ancestors("MED-M") == ["MED"]


def test_an_invalid_code_system_names_each_problem(db: Database) -> None:
    resource = {
        "resourceType": "CodeSystem",
        "url": WARDS,
        "status": "active",
        "content": "complete",
        "concept": [{"display": "no code"}, {"code": "A", "display": 3}],
    }
    with db.session() as session, pytest.raises(InvalidResource) as caught:
        codesystems.save(session, resource=resource)
    where = [expression for _, expression in caught.value.issues]
    assert "CodeSystem.concept.0.code" in where and "CodeSystem.concept.1.display" in where


def test_creating_a_second_copy_of_a_version_is_refused(db: Database, shared_data: Path) -> None:
    resource = json.loads((shared_data / "ihris" / "CodeSystem-ihris-cadre.json").read_text())
    with db.session() as session:
        codesystems.save(session, resource=resource, replace=False)
        with pytest.raises(DuplicateResource, match="already exists as id 'ihris-cadre'"):
            codesystems.save(session, resource=resource, replace=False)


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def test_a_code_list_from_xlsx(db: Database, catalog: Catalog, tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "wards.xlsx",
        [
            ["Code", "Name", "Parent Code", "Floor"],
            [100, "Medicine", None, 1],
            [101, "Male medical", 100, 1],
            [None, None, None, None],
            [200, "Surgery", None, 2],
        ],
    )
    with db.session() as session:
        row = files.import_code_system(session, path=path, url=WARDS, version="2024", title="Wards")
    system = catalog.system(WARDS, "2024")
    assert (row.title, row.hierarchy_meaning) == ("Wards", "is-a")
    assert [e.code for e in system.entries] == ["100", "101", "200"]  # Excel numbers stay codes
    assert system.ancestors("101") == ["100"]
    assert system.concept("200").properties == ({"code": "Floor", "valueString": "2"},)


def test_a_code_list_from_csv_with_semicolons(db: Database, catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "wards.csv"
    path.write_text("\ufeffcode;display;definition\nICU;Intensive care;Level 3 beds\nOPD;Outpatients;\n")
    with db.session() as session:
        files.import_code_system(session, path=path, url=WARDS)
    system = catalog.system(WARDS)
    assert system.concept("ICU").definition == "Level 3 beds"
    assert system.concept("OPD").display == "Outpatients" and system.concept("OPD").definition is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("code,display,parent\nA,Alpha,\nB,Beta,Z\n", "parent 'Z' of 'B' is not in the list"),
        ("code,display\nA,Alpha\n,Nameless\n", "row 3: the code is empty"),
        ("code,display\nA,Alpha\nA,Again\n", "code 'A' appears twice"),
        ("label,meaning\nA,Alpha\n", "no code column"),
    ],
    ids=["unknown-parent", "empty-code", "duplicate", "no-code-column"],
)
def test_a_bad_code_list_is_refused_with_the_row(
    db: Database, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "list.csv"
    path.write_text(content)
    with db.session() as session, pytest.raises(InvalidResource, match=message):
        files.import_code_system(session, path=path, url=WARDS)


def test_a_code_list_needs_a_url(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("code,display\nA,Alpha\n")
    with db.session() as session, pytest.raises(InvalidParameter, match="needs the code system's url"):
        files.import_code_system(session, path=path)
