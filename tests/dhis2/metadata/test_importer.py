"""Importing DHIS2 metadata exports into the cache."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.db.session import Database
from hub.dhis2.metadata import models
from hub.dhis2.metadata.importer import ImportStrategy, import_metadata
from hub.dhis2.metadata.lookup import IdScheme, org_units_within, resolve
from hub.dhis2.metadata.schema import BY_KEY
from hub.dhis2.metadata.stream import ExportError, from_document, read_export
from tests.dhis2.metadata.conftest import export_objects


def _import(db: Database, document: dict[str, Any], **kwargs: Any) -> Any:
    with db.session() as session:
        return import_metadata(session, source=from_document(document), **kwargs)


def _count(db: Database, model: type[Any]) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _org_unit(uid: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": uid, "name": name, "shortName": name, "openingDate": "1990-01-01T00:00:00.000", **extra}


@pytest.mark.parametrize(
    "name", ["setup-metadata.json", "aggregate-metadata.json", "tracker-metadata.json"], ids=str
)
def test_every_shared_export_imports_with_counts_per_type(db: Database, shared_data: Path, name: str) -> None:
    path = shared_data / "dhis2" / name
    with path.open("rb") as fh, db.session() as session:
        report = import_metadata(session, source=read_export(fh))

    assert report.status == "OK"
    document = export_objects(path)
    expected = {BY_KEY[k].simple_name: len(v) for k, v in document.items() if k in BY_KEY}
    assert {k: v["created"] for k, v in report.counts().items()} == expected
    for key, objects in document.items():
        if key in BY_KEY:
            assert _count(db, BY_KEY[key].model) == len({o["id"] for o in objects}), key
    assert report.skipped == {
        k: len(v) for k, v in document.items() if k not in BY_KEY and isinstance(v, list)
    }


def test_a_second_import_updates_and_keeps_owned_rows_unique(loaded: Database, exports: list[Path]) -> None:
    elements_before = _count(loaded, models.DataSetElement)
    with exports[1].open("rb") as fh, loaded.session() as session:
        report = import_metadata(session, source=read_export(fh))

    assert report.stats.created == 0
    assert report.stats.updated == report.stats.total > 0
    assert _count(loaded, models.DataSetElement) == elements_before > 0


def test_data_set_keeps_its_elements_overrides_and_org_units(loaded: Database) -> None:
    with loaded.session() as session:
        data_set = session.scalars(
            select(models.DataSetElement).where(
                models.DataSetElement.data_set_uid == "qNtxTrp56wV",
                models.DataSetElement.data_element_uid == "dFaBg0HpoIL",
            )
        ).one()
        org_units = session.scalars(
            select(models.DataSetOrgUnit.org_unit_uid).where(
                models.DataSetOrgUnit.data_set_uid == "VEM58nY22sO"
            )
        ).all()
    assert data_set.category_combo_uid == "BwnnrV1AkNj"
    assert set(org_units) == {"ImspTQPwCqd", "O6uvpzGd5pu", "g8upMTyEZGZ", "YuQRtpLP10I"}


def test_missing_paths_are_derived_from_parents(loaded: Database) -> None:
    with loaded.session() as session:
        ngelehun = session.get(models.OrgUnit, "DiszpKrYNg8")
    assert ngelehun is not None
    assert ngelehun.path == "/ImspTQPwCqd/O6uvpzGd5pu/YuQRtpLP10I/DiszpKrYNg8"
    assert ngelehun.geometry == {"type": "Point", "coordinates": [-11.4197, 8.1039]}


def test_children_arriving_before_their_parents_get_paths(db: Database) -> None:
    report = _import(
        db,
        {
            "organisationUnits": [
                _org_unit("Child000001", "Child", parent={"id": "Parent00001"}),
                _org_unit("Parent00001", "Parent"),
            ]
        },
    )
    assert report.status == "OK"
    with db.session() as session:
        child = session.get(models.OrgUnit, "Child000001")
    assert child is not None and (child.path, child.level) == ("/Parent00001/Child000001", 2)


@pytest.mark.parametrize(
    ("feature_type", "coordinates", "expected"),
    [
        ("POINT", "[-11.4197,8.1039]", {"type": "Point", "coordinates": [-11.4197, 8.1039]}),
        (
            "POLYGON",
            "[[[[-11.0,8.0],[-11.1,8.0],[-11.1,8.1],[-11.0,8.0]]]]",
            {"type": "Polygon", "coordinates": [[[-11.0, 8.0], [-11.1, 8.0], [-11.1, 8.1], [-11.0, 8.0]]]},
        ),
        (
            "MULTI_POLYGON",
            "[[[[1,2],[3,4],[5,6],[1,2]]],[[[7,8],[9,10],[11,12],[7,8]]]]",
            {
                "type": "MultiPolygon",
                "coordinates": [[[[1, 2], [3, 4], [5, 6], [1, 2]]], [[[7, 8], [9, 10], [11, 12], [7, 8]]]],
            },
        ),
        ("NONE", None, None),
    ],
    ids=["point", "polygon", "multipolygon", "none"],
)
def test_pre_232_coordinates_become_geojson(
    db: Database, feature_type: str, coordinates: str | None, expected: dict[str, Any] | None
) -> None:
    legacy = _org_unit("Legacy00001", "Old", featureType=feature_type, coordinates=coordinates)
    assert _import(db, {"organisationUnits": [legacy]}).status == "OK"
    with db.session() as session:
        org_unit = session.get(models.OrgUnit, "Legacy00001")
    assert org_unit is not None and org_unit.geometry == expected


@pytest.mark.parametrize("coordinates", ["not json", '["-11.4","8.1"]', "[[1,2],[3,4]]"])
def test_unreadable_coordinates_are_an_error_report(db: Database, coordinates: str) -> None:
    legacy = _org_unit("Legacy00001", "Old", featureType="POINT", coordinates=coordinates)
    report = _import(db, {"organisationUnits": [legacy]}, atomic=False)
    [object_report] = report.type_reports["org.hisp.dhis.organisationunit.OrganisationUnit"].object_reports
    assert object_report.error_reports[0].error_code == "E4030"


@pytest.mark.parametrize(
    "shape",
    [
        "POINT",
        {"type": "Point"},
        {"type": "Point", "coordinates": "[-11.4, 8.1]"},
        {"type": "Point", "coordinates": [-11.4]},
        {"type": "Point", "coordinates": [-11.4, "8.1"]},
        {"type": "Point", "coordinates": [True, 8.1]},
        {"type": "Polygon", "coordinates": [[-11.4, 8.1]]},
        {"type": "Circle", "coordinates": [-11.4, 8.1]},
        {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [[1, 2]]}]},
    ],
    ids=[
        "text",
        "no-coordinates",
        "text-coordinates",
        "one-number",
        "text-number",
        "boolean",
        "polygon-too-shallow",
        "unknown-type",
        "bad-member",
    ],
)
def test_a_geometry_that_is_not_geojson_is_an_error_report(db: Database, shape: Any) -> None:
    report = _import(
        db, {"organisationUnits": [_org_unit("Shape000001", "Shaped", geometry=shape)]}, atomic=False
    )
    [object_report] = report.type_reports["org.hisp.dhis.organisationunit.OrganisationUnit"].object_reports
    assert [(e.error_code, e.error_property) for e in object_report.error_reports] == [("E4030", "geometry")]
    assert _count(db, models.OrgUnit) == 0


@pytest.mark.parametrize(
    "shape",
    [
        None,
        {"type": "Point", "coordinates": [-11.4197, 8.1039, 12.5]},
        {"type": "LineString", "coordinates": [[1, 2], [3, 4]]},
        {"type": "MultiPolygon", "coordinates": [[[[1, 2], [3, 4], [5, 6], [1, 2]]]]},
        {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1, 2]}]},
    ],
    ids=["null", "point-with-altitude", "line", "multipolygon", "collection"],
)
def test_a_geojson_geometry_is_stored_as_given(db: Database, shape: Any) -> None:
    assert (
        _import(db, {"organisationUnits": [_org_unit("Shape000001", "Shaped", geometry=shape)]}).status
        == "OK"
    )
    with db.session() as session:
        org_unit = session.get(models.OrgUnit, "Shape000001")
    assert org_unit is not None and org_unit.geometry == shape


INVALID = {
    "dataElements": [
        {"id": "deGood00001", "name": "Good", "valueType": "NUMBER", "aggregationType": "SUM"},
        {"name": "No id", "valueType": "NUMBER"},
        {"id": "deNoName001", "valueType": "NUMBER"},
        {"id": "deBadType01", "name": "Bad type", "valueType": "NUMBERS"},
        {"id": "1bad", "name": "Bad uid", "valueType": "NUMBER"},
    ]
}


def test_atomic_all_rolls_back_everything_on_any_error(db: Database) -> None:
    report = _import(db, INVALID)

    assert report.status == "ERROR"
    assert report.stats.to_dict() == {"created": 0, "updated": 0, "deleted": 0, "ignored": 5, "total": 5}
    assert _count(db, models.DataElement) == 0


def test_atomic_none_keeps_the_valid_objects_and_reports_each_error(db: Database) -> None:
    report = _import(db, INVALID, atomic=False)

    assert report.status == "WARNING"
    assert (report.stats.created, report.stats.ignored) == (1, 4)
    reports = report.to_dict()["typeReports"][0]["objectReports"]
    assert [
        (r["index"], r["errorReports"][0]["errorCode"], r["errorReports"][0]["errorProperty"])
        for r in reports
    ] == [
        (1, "E4000", "id"),
        (2, "E4000", "name"),
        (3, "E4030", "valueType"),
        (4, "E4014", "id"),
    ]
    assert reports[0]["errorReports"][0]["mainKlass"] == "org.hisp.dhis.dataelement.DataElement"
    assert _count(db, models.DataElement) == 1


def test_dry_run_writes_nothing_but_reports_what_would_happen(db: Database) -> None:
    report = _import(db, {"organisationUnits": [_org_unit("Parent00001", "Parent")]}, dry_run=True)

    assert (report.status, report.stats.created, report.import_mode) == ("OK", 1, "VALIDATE")
    assert _count(db, models.OrgUnit) == 0


@pytest.mark.parametrize(
    ("strategy", "created", "updated", "deleted", "ignored", "left"),
    [
        (ImportStrategy.CREATE, 1, 0, 0, 1, 2),
        (ImportStrategy.UPDATE, 0, 1, 0, 1, 1),
        (ImportStrategy.DELETE, 0, 0, 1, 1, 0),
    ],
    ids=["create", "update", "delete"],
)
def test_import_strategies(
    db: Database, strategy: ImportStrategy, created: int, updated: int, deleted: int, ignored: int, left: int
) -> None:
    _import(db, {"organisationUnits": [_org_unit("Parent00001", "Parent")]})
    document = {"organisationUnits": [_org_unit("Parent00001", "Renamed"), _org_unit("Other000001", "Other")]}

    report = _import(db, document, import_strategy=strategy, atomic=False)

    stats = report.stats
    assert (stats.created, stats.updated, stats.deleted, stats.ignored) == (
        created,
        updated,
        deleted,
        ignored,
    )
    assert _count(db, models.OrgUnit) == left


def test_attribute_values_and_id_scheme_lookups(db: Database) -> None:
    attribute = {"attribute": {"id": "uh6H2ff562G"}, "value": "DE1"}
    document = {
        "dataElements": [
            {
                "id": "deGood00001",
                "code": "DE_GOOD",
                "name": "Good",
                "valueType": "NUMBER",
                "attributeValues": [attribute],
            }
        ],
        "organisationUnits": [
            _org_unit("Parent00001", "Parent"),
            _org_unit("Child000001", "Child", parent={"id": "Parent00001"}),
            _org_unit("Other000001", "Other"),
        ],
    }
    _import(db, document)
    with db.session() as session:
        by_attribute = resolve(
            session,
            model=models.DataElement,
            scheme=IdScheme.parse("ATTRIBUTE:uh6H2ff562G"),
            identifiers={"DE1", "DE9"},
        )
        by_code = resolve(
            session, model=models.DataElement, scheme=IdScheme.parse("code"), identifiers={"DE_GOOD"}
        )
        inside = org_units_within(
            session, uids={"Parent00001", "Child000001", "Other000001"}, roots=["Parent00001"]
        )
    assert by_attribute == {"DE1": "deGood00001"}
    assert by_code == {"DE_GOOD": "deGood00001"}
    assert inside == {"Parent00001", "Child000001"}


def test_min_max_values_upsert(db: Database) -> None:
    bound = {
        "dataElement": {"id": "deGood00001"},
        "source": {"id": "Parent00001"},
        "optionCombo": {"id": "HllvX50cXC0"},
    }
    _import(db, {"minMaxDataElements": [{**bound, "min": 1, "max": 10}]})
    report = _import(db, {"minMaxDataElements": [{**bound, "min": 2, "max": 20}, {"min": 1}]}, atomic=False)

    assert (report.stats.updated, report.stats.ignored) == (1, 1)
    with db.session() as session:
        [row] = session.scalars(select(models.MinMaxDataElement)).all()
    assert (row.min_value, row.max_value) == (2, 20)


def test_a_broken_export_raises_export_error(db: Database) -> None:
    broken = io.BytesIO(json.dumps({"organisationUnits": [_org_unit("Parent00001", "P")]}).encode()[:-10])
    with pytest.raises(ExportError), db.session() as session:
        import_metadata(session, source=read_export(broken))
    assert _count(db, models.OrgUnit) == 0


def test_delete_drops_the_links_other_objects_have_to_it(db: Database) -> None:
    data_set = {"id": "DataSet0001", "name": "Monthly", "periodType": "Monthly"}
    units = [_org_unit("Parent00001", "Parent"), _org_unit("Other000001", "Other")]
    links = [{"id": "Parent00001"}, {"id": "Other000001"}]
    _import(db, {"organisationUnits": units, "dataSets": [{**data_set, "organisationUnits": links}]})

    report = _import(
        db, {"organisationUnits": [{"id": "Parent00001"}]}, import_strategy=ImportStrategy.DELETE
    )

    assert report.stats.deleted == 1
    with db.session() as session:
        assert session.scalars(select(models.DataSetOrgUnit.org_unit_uid)).all() == ["Other000001"]
    assert _count(db, models.DataSet) == 1
