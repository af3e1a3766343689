"""The mapping-sheet workflow: import, review report, versions, export, and $translate underneath."""

from __future__ import annotations

from pathlib import Path

import pytest
from fhir.resources.R4B.conceptmap import ConceptMap as FhirConceptMap
from openpyxl import Workbook, load_workbook

from hub.db.session import Database
from terminology import conceptmaps, files, mapsheet, translate
from terminology.catalog import Catalog
from terminology.errors import InvalidResource, UnknownResource
from tests.terminology.conftest import ICD

LOCAL = "http://moh.example.org/fhir/CodeSystem/opd-diagnoses"
MAP = "http://moh.example.org/fhir/ConceptMap/opd-to-icd10"
SHEET = [
    ["Local code", "Local name", "ICD-10 code", "ICD-10 name", "Equivalence", "Comment"],
    ["OPD-01", "Pneumonia", "J18.9", "Pneumonia, unspecified", "", ""],
    [
        "OPD-02",
        "Watery diarrhoea",
        "A09.0",
        "Other gastroenteritis and colitis of infectious origin",
        "wider",
        "no lab",
    ],
    ["OPD-02", "Watery diarrhoea", "A00.9", "Cholera, unspecified", "wider", "in outbreaks"],
    ["OPD-03", "Fever, cause unknown", "", "", "", "to review"],
    ["OPD-04", "Snake bite", "T63.00", "", "", "typo in the sheet"],
    ["OPD-01", "Pneumonia", "J18.9", "", "", ""],
    ["OPD-05", "Malaria (falciparum)", "B50.9", "", "exact", ""],
]


def write_sheet(path: Path, rows: list[list[str]]) -> Path:
    if path.suffix == ".xlsx":
        book = Workbook()
        for row in rows:
            book.active.append(row)
        book.save(path)
    else:
        path.write_text("\n".join(",".join(f'"{c}"' for c in row) for row in rows) + "\n")
    return path


def import_map(db: Database, catalog: Catalog, path: Path, **options: str) -> tuple[int, mapsheet.Report]:
    with db.session() as session:
        row, report = files.import_concept_map(
            session,
            loaded=catalog.newest(),
            path=path,
            source_system=LOCAL,
            target_system=ICD,
            url=MAP,
            **options,
        )
        return row.id, report


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_the_review_report(db: Database, catalog: Catalog, tmp_path: Path, suffix: str) -> None:
    _, report = import_map(db, catalog, write_sheet(tmp_path / f"map{suffix}", SHEET), version="1")
    assert (report.rows, report.source_codes, report.duplicates) == (7, 5, 1)
    assert report.mapped == 4 and report.unmapped == ["OPD-03"]
    assert report.ambiguous == {"OPD-02": ["A09.0", "A00.9"]}
    assert report.unknown_targets == [("OPD-04", "T63.00")]
    assert report.unchecked_systems == [LOCAL]  # the local code system is not in the hub


def test_unknown_and_forgotten_source_codes_when_the_local_system_is_loaded(
    db: Database, catalog: Catalog, tmp_path: Path
) -> None:
    codes = tmp_path / "local.csv"
    codes.write_text("code,display\nOPD-01,Pneumonia\nOPD-02,Watery diarrhoea\nOPD-06,Measles\n")
    with db.session() as session:
        files.import_code_system(session, path=codes, url=LOCAL)
    _, report = import_map(db, catalog, write_sheet(tmp_path / "map.csv", SHEET))
    assert report.unknown_sources == ["OPD-03", "OPD-04", "OPD-05"] and report.unchecked_systems == []
    assert report.missing == ["OPD-06"]  # a local code the sheet forgot


def test_translate_forward_and_reverse(db: Database, catalog: Catalog, tmp_path: Path) -> None:
    import_map(db, catalog, write_sheet(tmp_path / "map.csv", SHEET))
    with db.session() as session:
        pneumonia = translate.translate(session, code="OPD-01", system=LOCAL)
        diarrhoea = translate.translate(session, code="OPD-02", system=LOCAL, target_system=ICD)
        fever = translate.translate(session, code="OPD-03", system=LOCAL)
        back = translate.translate(session, code="A00.9", system=ICD, reverse=True)
        nothing = translate.translate(session, code="OPD-99", system=LOCAL)
    assert pneumonia.result and [(m.code, m.equivalence) for m in pneumonia.matches] == [
        ("J18.9", "equivalent")
    ]
    assert [m.code for m in diarrhoea.matches] == ["A09.0", "A00.9"]
    assert not fever.result and "mapped as unmatched" in (fever.message or "")
    assert back.result and [(m.system, m.code, m.equivalence) for m in back.matches] == [
        (LOCAL, "OPD-02", "narrower")
    ]
    assert not nothing.result and nothing.message == f"code 'OPD-99' from {LOCAL} has no mapping"


def test_a_new_version_is_kept_beside_the_old_and_wins(
    db: Database, catalog: Catalog, tmp_path: Path
) -> None:
    first, _ = import_map(db, catalog, write_sheet(tmp_path / "v1.csv", SHEET), version="1")
    revised = [*SHEET[:4], ["OPD-03", "Fever, cause unknown", "R50.9", "", "", ""]]
    second, report = import_map(db, catalog, write_sheet(tmp_path / "v2.csv", revised), version="2")
    assert first != second and report.unmapped == []
    with db.session() as session:
        newest = translate.translate(session, code="OPD-03", system=LOCAL)
        old = conceptmaps.find(session, url=MAP, version="1")
        pinned = translate.translate(session, code="OPD-03", system=LOCAL, concept_map=old)
        with pytest.raises(UnknownResource, match=r"no version '3' \(known: '1', '2'\)"):
            conceptmaps.find(session, url=MAP, version="3")
    assert newest.result and newest.matches[0].code == "R50.9" and newest.matches[0].source == f"{MAP}|2"
    assert not pinned.result


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_reads_back_as_the_same_map(
    db: Database, catalog: Catalog, tmp_path: Path, suffix: str
) -> None:
    import_map(db, catalog, write_sheet(tmp_path / "in.csv", SHEET), version="1")
    out = tmp_path / f"out{suffix}"
    with db.session() as session:
        row = conceptmaps.find(session, url=MAP)
        assert mapsheet.export_sheet(session, row, path=out) == 6
        original = conceptmaps.rows_of(session, row)
    if suffix == ".xlsx":
        assert next(load_workbook(out).active.iter_rows(values_only=True))[:2] == (
            "source_system",
            "source_code",
        )
    with db.session() as session:
        again, _ = files.import_concept_map(session, loaded={}, path=out, url=MAP, version="copy")
        assert conceptmaps.rows_of(session, again) == original


def test_fhir_json_round_trip(db: Database, catalog: Catalog, tmp_path: Path) -> None:
    import_map(db, catalog, write_sheet(tmp_path / "map.csv", SHEET), version="1")
    with db.session() as session:
        rendered = conceptmaps.render(session, conceptmaps.find(session, url=MAP))
    FhirConceptMap.model_validate(rendered)
    group = rendered["group"][0]
    assert (group["source"], group["target"]) == (LOCAL, ICD)
    fever = next(e for e in group["element"] if e["code"] == "OPD-03")
    assert fever["target"] == [{"equivalence": "unmatched", "comment": "to review"}]
    copy = rendered | {"id": "copy", "version": "json"}
    with db.session() as session:
        row, created = conceptmaps.save(session, resource=copy)
        assert created and conceptmaps.render(session, row)["group"] == rendered["group"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (["OPD-09", "x", "J18.9", "", "sort of", ""], "row 2: equivalence 'sort of' is not one of"),
        (["", "x", "J18.9", "", "", ""], "row 2: the source code is empty"),
        (
            ["OPD-09", "x", "J18.9", "", "unmatched", ""],
            "row 2: a row with target 'J18.9' cannot be unmatched",
        ),
    ],
    ids=["bad-equivalence", "no-source-code", "unmatched-with-target"],
)
def test_a_bad_row_stops_the_import(
    db: Database, catalog: Catalog, tmp_path: Path, row: list[str], message: str
) -> None:
    path = write_sheet(tmp_path / "bad.csv", [SHEET[0], row])
    with pytest.raises(InvalidResource, match=message):
        import_map(db, catalog, path)
