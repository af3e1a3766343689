"""The metadata sync pipeline against a stand-in DHIS2 (``responses``), run directly and by ``hub run``."""

from __future__ import annotations

from typing import Any

import pytest
import responses
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from adapters.dhis2 import Dhis2Client, Dhis2Config
from hub.db.session import Database
from hub.dhis2.metadata import models
from hub.dhis2.metadata.schema import OBJECT_TYPES
from hub.pipelines.cli import run as run_command
from hub.pipelines.dhis2_metadata_sync import sync_into, sync_metadata
from hub.settings import get_settings
from tests.dhis2.metadata.fake_dhis2 import BASE, FakeDhis2, deleted_object, org_unit

CONFIG = Dhis2Config(base_url=BASE, username="hub", password="district-secret", retries=0)


def _sync(db: Database, *, page_size: int = 2) -> Any:
    with Dhis2Client(CONFIG) as client, db.session() as session:
        return sync_metadata(session, client=client, source="national", page_size=page_size)


def test_first_sync_pages_everything_and_remembers_the_start_time(db: Database, dhis2: FakeDhis2) -> None:
    dhis2.collections["organisationUnits"] = [
        {
            **org_unit(f"OrgUnit000{i}", f"Unit {i}", "OrgUnit0000" if i else None),
            "lastUpdated": "2024-04-01T00:00:00.000",
        }
        for i in range(5)
    ]
    dhis2.collections["dataElements"] = [
        {
            "id": "DataElem001",
            "name": "Cases",
            "valueType": "INTEGER",
            "lastUpdated": "2024-04-01T00:00:00.000",
        }
    ]

    result = _sync(db)

    assert result.counts["OrganisationUnit"]["created"] == 5
    assert result.counts["DataElement"]["created"] == 1
    assert result.since is None
    org_unit_pages = [q for key, q in dhis2.queries if key == "organisationUnits"]
    assert [q["page"] for q in org_unit_pages] == [["1"], ["2"], ["3"]]
    assert all("filter" not in q and q["fields"] == [":owner"] for _, q in dhis2.queries)
    with db.session() as session:
        state = session.get(models.MetadataSyncState, "national")
        child = session.get(models.OrgUnit, "OrgUnit0004")
    assert state is not None and state.watermark.isoformat() == "2024-05-01T10:00:00+00:00"
    assert child is not None and child.path == "/OrgUnit0000/OrgUnit0004"


def test_next_sync_asks_only_for_changes_since_the_previous_start(db: Database, dhis2: FakeDhis2) -> None:
    dhis2.collections["organisationUnits"] = [
        {**org_unit("OrgUnit0000", "Old name"), "lastUpdated": "2024-04-01T00:00:00.000"}
    ]
    _sync(db)
    # changed while the first sync ran: after its start, so the next run must still fetch it
    dhis2.collections["organisationUnits"] = [
        {**org_unit("OrgUnit0000", "New name"), "lastUpdated": "2024-05-01T10:00:01.000"},
        {**org_unit("OrgUnit0001", "Unchanged"), "lastUpdated": "2024-04-01T00:00:00.000"},
    ]
    dhis2.server_date = "2024-05-02T10:00:00.000"
    dhis2.queries.clear()

    result = _sync(db)

    assert all(q["filter"] == ["lastUpdated:gt:2024-05-01T10:00:00.000"] for _, q in dhis2.queries)
    assert result.counts["OrganisationUnit"] == {
        "created": 0,
        "updated": 1,
        "deleted": 0,
        "ignored": 0,
        "total": 1,
    }
    with db.session() as session:
        assert session.get(models.OrgUnit, "OrgUnit0000").name == "New name"  # type: ignore[union-attr]
        assert session.get(models.OrgUnit, "OrgUnit0001") is None
        assert session.get(models.MetadataSyncState, "national").watermark.day == 2  # type: ignore[union-attr]


OLD = "2024-04-01T00:00:00.000"  # before the first sync's watermark, 2024-05-01T10:00:00.000
ORG_UNIT = "org.hisp.dhis.organisationunit.OrganisationUnit"
DATA_ELEMENT = "org.hisp.dhis.dataelement.DataElement"


def _district_with_a_data_set(dhis2: FakeDhis2) -> None:
    clinic_attribute = [{"attribute": {"id": "AttribUid01"}, "value": "C1"}]
    dhis2.collections["organisationUnits"] = [
        {**org_unit("OrgUnit0000", "District"), "lastUpdated": OLD},
        {
            **org_unit("OrgUnit0001", "Clinic", "OrgUnit0000"),
            "lastUpdated": OLD,
            "attributeValues": clinic_attribute,
        },
        {**org_unit("OrgUnit0002", "Post", "OrgUnit0000"), "lastUpdated": OLD},
    ]
    dhis2.collections["dataElements"] = [
        {"id": "DataElem001", "name": "Cases", "valueType": "INTEGER", "lastUpdated": OLD},
        {"id": "DataElem002", "name": "Deaths", "valueType": "INTEGER", "lastUpdated": OLD},
    ]
    dhis2.collections["dataSets"] = [
        {
            "id": "DataSet0001",
            "name": "Monthly",
            "periodType": "Monthly",
            "lastUpdated": OLD,
            "dataSetElements": [
                {"dataElement": {"id": "DataElem001"}},
                {"dataElement": {"id": "DataElem002"}},
            ],
            "organisationUnits": [{"id": "OrgUnit0000"}, {"id": "OrgUnit0001"}, {"id": "OrgUnit0002"}],
        }
    ]


def test_next_sync_removes_what_dhis2_deleted_with_its_link_rows(db: Database, dhis2: FakeDhis2) -> None:
    _district_with_a_data_set(dhis2)
    _sync(db)
    # DHIS2 deletes two units and an element; the data set's own lastUpdated does not move
    dhis2.collections["organisationUnits"] = dhis2.collections["organisationUnits"][:1]
    dhis2.collections["dataElements"] = dhis2.collections["dataElements"][1:]
    dhis2.deleted = [
        deleted_object("OrgUnit0001", ORG_UNIT, "2024-05-01T12:00:00.000", code="CLINIC"),
        deleted_object("NeverSeen01", ORG_UNIT, "2024-05-01T12:30:00.000"),  # created and deleted in between
        deleted_object("OrgUnit0002", ORG_UNIT, "2024-05-01T13:00:00.000"),
        deleted_object("DataElem001", DATA_ELEMENT, "2024-05-01T14:00:00.000"),
        deleted_object("OrgUnit0000", ORG_UNIT, "2024-04-30T00:00:00.000"),  # before the watermark: not asked
    ]
    dhis2.server_date = "2024-05-02T10:00:00.000"

    result = _sync(db)

    assert (result.counts["OrganisationUnit"]["deleted"], result.counts["DataElement"]["deleted"]) == (2, 1)
    assert result.errors == 0
    asked = dhis2.deleted_queries
    assert [q["klass"] for q in asked if q["page"] == ["1"]] == [[t.simple_name] for t in OBJECT_TYPES]
    assert [q["page"] for q in asked if q["klass"] == ["OrganisationUnit"]] == [["1"], ["2"]]
    assert all(q["deletedAt"] == ["2024-05-01T10:00:00.000"] for q in asked)
    with db.session() as session:
        assert session.scalars(select(models.OrgUnit.uid)).all() == ["OrgUnit0000"]
        assert session.scalars(select(models.DataElement.uid)).all() == ["DataElem002"]
        assert session.scalars(select(models.DataSetOrgUnit.org_unit_uid)).all() == ["OrgUnit0000"]
        assert session.scalars(select(models.DataSetElement.data_element_uid)).all() == ["DataElem002"]
        assert session.scalars(select(models.AttributeValue.object_uid)).all() == []


def test_an_object_deleted_then_created_again_is_kept(db: Database, dhis2: FakeDhis2) -> None:
    dhis2.collections["organisationUnits"] = [{**org_unit("OrgUnit0000", "Old"), "lastUpdated": OLD}]
    _sync(db)
    dhis2.deleted = [deleted_object("OrgUnit0000", ORG_UNIT, "2024-05-01T11:00:00.000")]
    dhis2.collections["organisationUnits"] = [
        {**org_unit("OrgUnit0000", "Again"), "lastUpdated": "2024-05-01T12:00:00.000"}
    ]

    result = _sync(db)

    stats = result.counts["OrganisationUnit"]
    assert (stats["deleted"], stats["created"]) == (1, 1)
    with db.session() as session:
        assert session.get(models.OrgUnit, "OrgUnit0000").name == "Again"  # type: ignore[union-attr]


@pytest.mark.parametrize(("version", "asked"), [("2.40.1", True), ("2.29.1", False)])
def test_deletions_are_asked_only_on_incremental_runs_from_2_30(
    db: Database, dhis2: FakeDhis2, version: str, asked: bool
) -> None:
    dhis2.version = version
    dhis2.collections["organisationUnits"] = [{**org_unit("OrgUnit0000", "Country"), "lastUpdated": OLD}]
    dhis2.deleted = [deleted_object("OrgUnit0000", ORG_UNIT, "2024-05-01T11:00:00.000")]

    _sync(db)
    first_run = len(dhis2.deleted_queries)
    _sync(db)

    assert first_run == 0
    assert len(dhis2.deleted_queries) == (len(OBJECT_TYPES) if asked else 0)
    with db.session() as session:
        assert (session.get(models.OrgUnit, "OrgUnit0000") is None) == asked


def test_a_failed_sync_keeps_the_old_watermark(db: Database, dhis2: FakeDhis2) -> None:
    _sync(db)
    dhis2.server_date = "2024-06-01T00:00:00.000"
    with responses.RequestsMock() as broken:
        broken.add(
            responses.GET,
            f"{BASE}/api/system/info",
            json={"version": dhis2.version, "serverDate": dhis2.server_date},
        )
        nothing_deleted = {
            "pager": {"page": 1, "pageCount": 1, "total": 0, "pageSize": 2},
            "deletedObjects": [],
        }
        broken.add(responses.GET, f"{BASE}/api/deletedObjects", json=nothing_deleted)
        broken.add(responses.GET, f"{BASE}/api/organisationUnits", status=500)
        with pytest.raises(Exception, match="500"):
            sync_into(db, config=CONFIG, source="national")
    with db.session() as session:
        assert session.get(models.MetadataSyncState, "national").watermark.month == 5  # type: ignore[union-attr]


def test_invalid_objects_are_counted_not_fatal(db: Database, dhis2: FakeDhis2) -> None:
    dhis2.collections["dataElements"] = [{"id": "DataElem001", "name": "No value type"}]
    result = _sync(db)
    assert (result.errors, result.counts["DataElement"]["ignored"]) == (1, 1)


def test_hub_run_syncs_from_the_configured_source(
    database_url: str, dhis2: FakeDhis2, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dhis2.collections["dataSets"] = [{"id": "DataSet0001", "name": "Monthly", "periodType": "Monthly"}]
    config = tmp_path / "hub.yaml"
    target = {
        "name": "national",
        "base_url": BASE,
        "version": "2.40",
        "auth": {"type": "basic", "username": "hub", "secret_env": "DHIS2_SECRET"},
    }
    config.write_text(yaml.safe_dump({"dhis2": {"metadata_source": "national", "targets": [target]}}))
    monkeypatch.setenv("DHIS2_SECRET", "district-secret")
    monkeypatch.setenv("HUB_CONFIG", str(config))
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        listed = CliRunner().invoke(run_command, [])
        result = CliRunner().invoke(run_command, ["dhis2-metadata-sync"])
    finally:
        get_settings.cache_clear()

    assert "dhis2-metadata-sync" in listed.output
    assert result.exit_code == 0, result.output
    assert '"created": 1' in result.output
    assert "/api/40/dataSets" in dhis2.paths
    assert "district-secret" not in result.output
    with Database(database_url).session() as session:
        assert session.scalars(select(models.DataSet.period_type)).all() == ["Monthly"]


def test_hub_run_unknown_pipeline_is_a_usage_error() -> None:
    result = CliRunner().invoke(run_command, ["no-such-pipeline"])
    assert result.exit_code == 2
    assert "dhis2-metadata-sync" in result.output
