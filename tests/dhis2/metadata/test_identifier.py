"""Metadata imports with ``identifier=CODE|AUTO``: objects and references matched by code, as DHIS2."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hub.db.session import Database
from hub.dhis2.metadata import models
from hub.dhis2.metadata.identifiers import Identifier
from hub.dhis2.metadata.importer import ImportStrategy, import_metadata
from hub.dhis2.metadata.report import ImportReport
from hub.dhis2.metadata.schema import UID_PATTERN
from hub.dhis2.metadata.stream import from_document
from tests.dhis2.metadata.conftest import CLIENT

CODE, AUTO = Identifier.CODE, Identifier.AUTO
COMBO = {"id": "CatCombo001", "code": "CC_AGE", "name": "Age"}


def _import(db: Database, document: dict[str, Any], **kwargs: Any) -> ImportReport:
    with db.session() as session:
        return import_metadata(session, source=from_document(document), **kwargs)


def _unit(code: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "name": name, "openingDate": "2000-01-01", **extra}


def _by_code(db: Database, model: type[Any], code: str) -> Any:
    with db.session() as session:
        return session.scalars(select(model).where(model.code == code)).one()


def _errors(report: ImportReport) -> list[tuple[str, str | None, Any]]:
    return [
        (error.error_code, error.error_property, error.value)
        for type_report in report.type_reports.values()
        for object_report in type_report.object_reports
        for error in object_report.error_reports
    ]


def test_code_references_anywhere_in_the_payload_and_generated_uids(db: Database) -> None:
    _import(db, {"categoryCombos": [COMBO]})
    document = {  # every reference names an object later in the payload, or already cached
        "dataSets": [
            {
                "code": "DS_MONTHLY",
                "name": "Monthly",
                "periodType": "Monthly",
                "categoryCombo": {"code": "CC_AGE"},
                "dataSetElements": [
                    {"dataElement": {"code": "DE_CASES"}, "categoryCombo": {"code": "CC_AGE"}}
                ],
                "organisationUnits": [{"code": "OU_CLINIC"}],
            }
        ],
        "dataElements": [
            {"code": "DE_CASES", "name": "Cases", "valueType": "INTEGER", "categoryCombo": {"code": "CC_AGE"}}
        ],
        "organisationUnits": [
            _unit("OU_CLINIC", "Clinic", parent={"code": "OU_DISTRICT"}),
            _unit("OU_DISTRICT", "District"),
        ],
    }

    report = _import(db, document, identifier=CODE)

    assert (report.status, report.stats.created) == ("OK", 4)
    clinic, district = _by_code(db, models.OrgUnit, "OU_CLINIC"), _by_code(db, models.OrgUnit, "OU_DISTRICT")
    element, data_set = (
        _by_code(db, models.DataElement, "DE_CASES"),
        _by_code(db, models.DataSet, "DS_MONTHLY"),
    )
    assert all(UID_PATTERN.match(o.uid) for o in (clinic, district, element, data_set))
    assert len({clinic.uid, district.uid, element.uid, data_set.uid}) == 4
    assert (clinic.parent_uid, clinic.path) == (district.uid, f"/{district.uid}/{clinic.uid}")
    assert (element.category_combo_uid, data_set.category_combo_uid) == ("CatCombo001", "CatCombo001")
    with db.session() as session:
        links = session.execute(
            select(models.DataSetElement.data_element_uid, models.DataSetElement.category_combo_uid)
        )
        units = session.scalars(select(models.DataSetOrgUnit.org_unit_uid))
        assert (links.all(), units.all()) == ([(element.uid, "CatCombo001")], [clinic.uid])


def test_code_matches_cached_objects_and_keeps_their_uid(db: Database) -> None:
    _import(db, {"categoryCombos": [COMBO]})

    report = _import(db, {"categoryCombos": [{"code": "CC_AGE", "name": "Age groups"}]}, identifier=CODE)

    assert (report.stats.created, report.stats.updated) == (0, 1)
    assert _by_code(db, models.CategoryCombo, "CC_AGE").uid == "CatCombo001"
    assert _by_code(db, models.CategoryCombo, "CC_AGE").name == "Age groups"


def test_a_code_naming_nothing_is_e5002_and_undoes_the_import(db: Database) -> None:
    document = {
        "organisationUnits": [_unit("OU_DISTRICT", "District")],
        "dataElements": [
            {
                "code": "DE_CASES",
                "name": "Cases",
                "valueType": "INTEGER",
                "categoryCombo": {"code": "CC_NONE"},
            }
        ],
    }

    report = _import(db, document, identifier=CODE)

    assert report.status == "ERROR"
    assert _errors(report) == [("E5002", "categoryCombo", "CC_NONE")]
    [message] = [
        e.message for r in report.type_reports.values() for o in r.object_reports for e in o.error_reports
    ]
    assert message.startswith("Invalid reference [CC_NONE] (CategoryCombo) on object Cases (")
    with db.session() as session:
        assert session.scalars(select(models.OrgUnit)).all() == []


def test_code_refuses_an_id_another_cached_object_has_e5003(db: Database) -> None:
    _import(db, {"categoryCombos": [COMBO]})

    report = _import(db, {"categoryCombos": [{**COMBO, "code": "CC_SEX", "name": "Sex"}]}, identifier=CODE)

    assert _errors(report) == [("E5003", "id", "CatCombo001")]
    assert _by_code(db, models.CategoryCombo, "CC_AGE").name == "Age"


def test_update_by_a_code_that_matches_nothing_is_e5001(db: Database) -> None:
    report = _import(
        db, {"categoryCombos": [{"code": "CC_SEX", "name": "Sex"}]}, identifier=CODE,
        import_strategy=ImportStrategy.UPDATE, atomic=False,
    )  # fmt: skip

    assert _errors(report) == [("E5001", "id", "CC_SEX")]
    [error] = report.type_reports["org.hisp.dhis.category.CategoryCombo"].object_reports[0].error_reports
    assert error.message == "No matching object for reference. Identifier was CODE, and object was CC_SEX."


def test_auto_matches_by_id_first_then_by_code(db: Database) -> None:
    _import(db, {"categoryCombos": [COMBO, {"id": "CatCombo002", "code": "CC_SEX", "name": "Sex"}]})
    document = {
        "categoryCombos": [
            {"id": "CatCombo001", "code": "CC_AGE_NEW", "name": "Age (recoded)"},  # by id, code changes
            {"code": "CC_SEX", "name": "Sex (renamed)"},  # no id: by code
            {"id": "CatCombo003", "code": "CC_NEW", "name": "New"},  # neither: created with its id
        ],
        "dataElements": [
            {"code": "DE_X", "name": "X", "valueType": "NUMBER", "categoryCombo": {"code": "CC_SEX"}},
            {"code": "DE_Y", "name": "Y", "valueType": "NUMBER", "categoryCombo": {"id": "CatCombo003"}},
        ],
    }

    report = _import(db, document, identifier=AUTO)

    assert report.status == "OK"
    stats = report.counts()["CategoryCombo"]
    assert (stats["created"], stats["updated"]) == (1, 2)
    with db.session() as session:
        combos = dict(session.execute(select(models.CategoryCombo.uid, models.CategoryCombo.name)).all())
        elements = dict(
            session.execute(select(models.DataElement.code, models.DataElement.category_combo_uid)).all()
        )
    assert combos == {"CatCombo001": "Age (recoded)", "CatCombo002": "Sex (renamed)", "CatCombo003": "New"}
    assert elements == {"DE_X": "CatCombo002", "DE_Y": "CatCombo003"}


@pytest.mark.parametrize("identifier", ["CODE", "AUTO"])
def test_post_metadata_with_an_identifier(dhis2_hub: Any, identifier: str) -> None:
    document = {"organisationUnits": [_unit("OU_NEW_CLINIC", "New clinic", parent={"code": "OU_559"})]}

    response = dhis2_hub.admin().post("/api/metadata", params={"identifier": identifier}, json=document)

    assert response.status_code == 200, response.text
    assert response.json()["response"]["stats"]["created"] == 1
    query = {"filter": "code:eq:OU_NEW_CLINIC", "fields": "id,parent[id]"}
    units = dhis2_hub.client(*CLIENT).get("/api/organisationUnits.json", params=query)
    [unit] = units.json()["organisationUnits"]
    assert unit["parent"] == {"id": "DiszpKrYNg8"}
    assert UID_PATTERN.match(unit["id"])
