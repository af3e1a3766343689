"""Imports through the service on SQLite and PostgreSQL: every shared payload in each format and id
scheme, every conflict DHIS2 reports, strategies, dry runs and queued deliveries."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from hub.db.session import Database
from hub.dhis2.config import Dhis2Target
from hub.dhis2.datavalues.models import DataValue
from hub.dhis2.metadata.models import MinMaxDataElement
from hub.outbox.models import Delivery
from tests.dhis2.datavalues.conftest import DATA_GROUP, Importer

SINGLE = "aggregate-dataValues-single-dataset.json"
DE, OU, COC = "BjDrgVrkBI3", "O6uvpzGd5pu", "oPcWGgS2Liz"  # in data set VEM58nY22sO (Monthly)


def shared(shared_data: Path, name: str) -> bytes:
    return (shared_data / "dhis2" / name).read_bytes()


def stored(db: Database) -> int:
    with db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(DataValue).where(DataValue.deleted.is_(False)))
            or 0
        )


@pytest.mark.parametrize(
    ("name", "fmt", "params", "count"),
    [
        (SINGLE, "json", {}, 2),
        ("aggregate-dataValues-bulk.json", "json", {}, 231),
        ("dataValueSetB.csv", "csv", {}, 12),
        ("dataValueSetB.xml", "xml", {}, 12),
        ("dataValueSetBCode.xml", "xml", {"idScheme": "code"}, 12),
        ("dataValueSetBCode.xml", "xml", {"dataElementIdScheme": "CODE", "orgUnitIdScheme": "code"}, 12),
        ("dataValueSetBAttributeIdScheme.xml", "xml", {}, 12),
        ("importA.adx.xml", "adx", {}, 9),
    ],
    ids=lambda v: str(v) if isinstance(v, str) else None,
)
def test_every_shared_payload_imports(
    run_import: Importer,
    loaded: Database,
    shared_data: Path,
    name: str,
    fmt: str,
    params: dict[str, str],
    count: int,
) -> None:
    summary = run_import(shared(shared_data, name), fmt, **params)
    assert summary.status == "SUCCESS", summary.summary_body(41)
    assert summary.count.imported == count
    assert stored(loaded) == count
    again = run_import(shared(shared_data, name), fmt, **params)
    assert (again.count.imported, again.count.updated) == (0, count)


def test_every_id_scheme_lands_on_the_same_rows(
    run_import: Importer, loaded: Database, shared_data: Path
) -> None:
    run_import(shared(shared_data, "dataValueSetB.xml"), "xml")
    for name, params in [
        ("dataValueSetBCode.xml", {"idScheme": "CODE"}),
        ("dataValueSetBAttributeIdScheme.xml", {}),
    ]:
        summary = run_import(shared(shared_data, name), "xml", **params)
        assert (summary.count.imported, summary.count.updated) == (0, 12)
    assert stored(loaded) == 12


def test_adx_disaggregations_resolve_to_option_combos(
    run_import: Importer, loaded: Database, shared_data: Path
) -> None:
    run_import(shared(shared_data, "importA.adx.xml"), "adx")
    with loaded.session() as session:
        rows = {
            (v.org_unit, v.period, v.category_option_combo, v.attribute_option_combo): v.value
            for v in session.scalars(select(DataValue).where(DataValue.data_element == "MalariaNum1"))
        }
        text = session.scalars(select(DataValue).where(DataValue.data_element == "MalariaTxt1")).one()
    assert rows[("AdxUnit0123", "202001", "CocFU000001", "HllvX50cXC0")] == "1"
    assert rows[("AdxUnit0123", "202001", "CocFO000001", "HllvX50cXC0")] == "3"
    assert rows[("AdxUnit0456", "2021Q1", "CocFU000001", "AocPepfar01")] == "10"
    assert rows[("AdxUnit0456", "2021Q1", "CocMU000001", "AocMcDonald")] == "30"
    assert text.comment == "Text data value"


def value(**overrides: Any) -> dict[str, Any]:
    doc = {"dataElement": DE, "period": "201911", "orgUnit": OU, "categoryOptionCombo": COC, "value": "5"}
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not None}


def payload(*values: dict[str, Any], **header: Any) -> bytes:
    return orjson.dumps({**header, "dataValues": list(values)})


@pytest.mark.parametrize(
    ("overrides", "code", "obj"),
    [
        ({"dataElement": "UnknownDE01"}, "E7610", "UnknownDE01"),
        ({"period": "2019-13"}, "E7611", "2019-13"),
        ({"period": "201913"}, "E7611", "201913"),
        ({"orgUnit": "UnknownOU01"}, "E7612", "UnknownOU01"),
        ({"categoryOptionCombo": "UnknownCOC1"}, "E7613", "UnknownCOC1"),
        ({"attributeOptionCombo": "UnknownAOC1"}, "E7615", "UnknownAOC1"),
        ({"value": None}, "E7618", DE),
        ({"value": "five"}, "E7619", DE),
        ({"value": "1.5"}, "E7619", DE),
        ({"period": "2019"}, "E7632", "2019"),
        ({"period": "202301"}, "E7641", "202301"),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("E7") else None,
)
def test_bad_values_get_dhis2_conflicts(
    run_import: Importer, overrides: dict[str, Any], code: str, obj: str
) -> None:
    summary = run_import(payload(value(), value(**{"categoryOptionCombo": "rtfSaMjPyq6", **overrides})))
    body = summary.summary_body(41)
    assert body["status"] == "WARNING"
    assert body["importCount"] == {"imported": 1, "updated": 0, "ignored": 1, "deleted": 0}
    (conflict,) = body["conflicts"]
    assert (conflict["errorCode"], conflict["object"], conflict["indexes"]) == (code, obj, [1])
    assert body["rejectedIndexes"] == [1]


def test_org_unit_outside_the_clients_hierarchy_is_refused(run_import: Importer) -> None:
    summary = run_import(payload(value()), roots=("g8upMTyEZGZ",))
    (conflict,) = summary.summary_body(41)["conflicts"]
    assert conflict["errorCode"] == "E7617"
    assert conflict["objects"] == {"organisationUnit": OU, "user": "tester"}
    assert summary.count.imported == 0


def test_org_unit_not_assigned_to_the_data_set(run_import: Importer) -> None:
    summary = run_import(payload(value(orgUnit="DiszpKrYNg8")))
    assert [c["errorCode"] for c in summary.summary_body(41)["conflicts"]] == ["E7636"]


def test_expired_period(run_import: Importer, loaded: Database) -> None:
    with loaded.session() as session:
        from hub.dhis2.metadata.models import DataSet

        session.get(DataSet, "VEM58nY22sO").expiry_days = 10  # type: ignore[union-attr]
    summary = run_import(payload(value()), today=date(2020, 3, 1))
    assert [c["errorCode"] for c in summary.summary_body(41)["conflicts"]] == ["E7640"]


def test_option_sets(run_import: Importer, loaded: Database) -> None:
    from hub.dhis2.metadata.models import DataElement, Option, OptionSet

    with loaded.session() as session:
        now = session.get(DataElement, DE).last_updated  # type: ignore[union-attr]
        session.add(OptionSet(uid="OptSetTest1", name="Levels", value_type="INTEGER", last_updated=now))
        session.add(
            Option(uid="OptionTest1", code="5", name="Five", option_set_uid="OptSetTest1", last_updated=now)
        )
        session.get(DataElement, DE).option_set_uid = "OptSetTest1"  # type: ignore[union-attr]
    summary = run_import(payload(value(), value(categoryOptionCombo="rtfSaMjPyq6", value="6")))
    assert [(c["errorCode"], c["indexes"]) for c in summary.summary_body(41)["conflicts"]] == [("E7621", [1])]


def test_set_level_unknown_data_set_aborts(run_import: Importer, loaded: Database) -> None:
    summary = run_import(payload(value(), dataSet="NoSuchSet01"))
    body = summary.summary_body(37)
    assert body["status"] == "ERROR" and body["conflicts"][0]["errorCode"] == "E7600"
    assert stored(loaded) == 0


def test_set_level_fields_fill_the_values(run_import: Importer, loaded: Database) -> None:
    bare = {"dataElement": DE, "categoryOptionCombo": COC, "value": "7"}
    summary = run_import(
        payload(bare, dataSet="VEM58nY22sO", period="201911", orgUnit=OU, completeDate="2019-12-01")
    )
    assert summary.count.imported == 1 and summary.data_set_complete == "2019-12-01"


def test_the_sets_period_org_unit_and_attribute_option_combo_win_over_the_values(
    run_import: Importer, loaded: Database
) -> None:
    """DHIS2 takes the dataValueSet's own period, orgUnit and attributeOptionCombo when it has
    them, whatever each value says: here the values' own would all be refused."""
    own = value(period="bogus", orgUnit="NoSuchUnit1", attributeOptionCombo="NoSuchAoc01")
    summary = run_import(payload(own, period="201911", orgUnit=OU, attributeOptionCombo="HllvX50cXC0"))
    assert summary.count.imported == 1, summary.conflicts
    with loaded.session() as session:
        row = session.scalars(select(DataValue)).one()
    assert (row.period, row.org_unit, row.attribute_option_combo) == ("201911", OU, "HllvX50cXC0")


def test_identical_conflicts_are_grouped_with_all_their_indexes(run_import: Importer) -> None:
    values = [value(categoryOptionCombo=c, orgUnit="UnknownOU01") for c in (COC, "rtfSaMjPyq6")]
    (conflict,) = run_import(payload(*values)).summary_body(41)["conflicts"]
    assert conflict["indexes"] == [0, 1]


@pytest.mark.parametrize(
    ("strategy", "counts"),
    [
        ("CREATE_AND_UPDATE", {"imported": 1, "updated": 1, "ignored": 0, "deleted": 0}),
        ("CREATE", {"imported": 1, "updated": 0, "ignored": 1, "deleted": 0}),
        ("UPDATE", {"imported": 0, "updated": 1, "ignored": 1, "deleted": 0}),
        ("DELETE", {"imported": 0, "updated": 0, "ignored": 1, "deleted": 1}),
    ],
)
def test_import_strategies_count_as_dhis2(
    run_import: Importer, loaded: Database, strategy: str, counts: dict[str, int]
) -> None:
    run_import(payload(value()))
    summary = run_import(
        payload(value(value="9"), value(categoryOptionCombo="rtfSaMjPyq6")), importStrategy=strategy
    )
    assert summary.count.as_dict() == counts
    assert stored(loaded) == {"DELETE": 0, "UPDATE": 1}.get(strategy, 2)


def test_deleted_values_can_be_created_again(run_import: Importer, loaded: Database) -> None:
    run_import(payload(value()))
    assert run_import(payload(value(deleted=True))).count.deleted == 1
    assert run_import(payload(value()), importStrategy="CREATE").count.imported == 1
    assert stored(loaded) == 1


def test_a_value_stored_concurrently_during_a_bulk_insert_is_merged_not_lost(
    run_import: Importer, loaded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another import stores a key after this chunk looked for its keys: the plain insert then
    collides, and the chunk is merged instead, so neither the import nor the value is lost."""
    run_import(payload(value()))
    monkeypatch.setattr("hub.dhis2.datavalues.store._existing", lambda session, rows: {})
    summary = run_import(payload(value(value="9"), value(categoryOptionCombo="rtfSaMjPyq6", value="4")))
    assert summary.status == "SUCCESS"
    with loaded.session() as session:
        rows = session.execute(select(DataValue.category_option_combo, DataValue.value))
        values = {coc: v for coc, v in rows}
    assert values == {COC: "9", "rtfSaMjPyq6": "4"}


def test_skip_existing_check_counts_values_as_new_but_never_duplicates_them(
    run_import: Importer, loaded: Database
) -> None:
    run_import(payload(value()))
    summary = run_import(payload(value(value="9")), skipExistingCheck="true")
    assert summary.count.as_dict() == {"imported": 1, "updated": 0, "ignored": 0, "deleted": 0}
    with loaded.session() as session:
        assert list(session.scalars(select(DataValue.value))) == ["9"]


def test_dry_run_stores_and_queues_nothing(run_import: Importer, loaded: Database) -> None:
    summary = run_import(payload(value()), dryRun="true", targets=[target()])
    assert summary.count.imported == 1
    assert stored(loaded) == 0
    with loaded.session() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0


def target(name: str = "national") -> Dhis2Target:
    auth = {"type": "basic", "username": "hub", "secret_env": "DHIS2_PASSWORD"}
    return Dhis2Target.model_validate({"name": name, "base_url": f"https://{name}.example.org", "auth": auth})


def test_accepted_values_are_queued_in_chunks_to_every_target(
    run_import: Importer, loaded: Database, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hub.dhis2.datavalues.service.CHUNK", 100)
    summary = run_import(
        shared(shared_data, "aggregate-dataValues-bulk.json"), targets=[target("a"), target("b")]
    )
    assert summary.count.imported == 231
    with loaded.session() as session:
        deliveries = list(session.scalars(select(Delivery).order_by(Delivery.id)))
    assert len(deliveries) == 6  # 3 chunks x 2 targets
    first = deliveries[0]
    assert first.url.startswith("https://a.example.org/api/dataValueSets?")
    assert "orgUnitIdScheme=UID" in first.url and "importStrategy=CREATE_AND_UPDATE" in first.url
    assert first.auth == {"type": "basic", "username": "hub", "secret_env": "DHIS2_PASSWORD"}
    assert (
        sum(len(orjson.loads(d.body)["dataValues"]) for d in deliveries if d.route_name == "dhis2:a") == 231
    )
    assert first.transaction_id is not None


@pytest.mark.parametrize(("roles", "forwarded"), [(("admin",), True), ((DATA_GROUP,), False)])
def test_a_forced_import_is_delivered_forced(
    run_import: Importer, loaded: Database, roles: tuple[str, ...], forwarded: bool
) -> None:
    """What a superuser forced past DHIS2's checks goes to DHIS2 with ``force=true`` too; for
    anyone else ``force`` counts for nothing, here or there."""
    run_import(payload(value()), roles=roles, targets=[target()], force="true")
    with loaded.session() as session:
        url = session.scalars(select(Delivery.url)).one()
    assert ("force=true" in url) is forwarded


def test_values_are_stored_with_provenance(run_import: Importer, loaded: Database) -> None:
    run_import(payload(value()))
    with loaded.session() as session:
        row = session.scalars(select(DataValue)).one()
    assert (row.client_id, row.value, row.attribute_option_combo) == ("tester", "5", "HllvX50cXC0")
    assert row.transaction_id is not None
    assert row.stored_by == "tester", "no storedBy in the payload: stored by the posting client, as in DHIS2"


def test_min_max_outliers_are_flagged_for_followup(run_import: Importer, loaded: Database) -> None:
    with loaded.session() as session:
        session.add(
            MinMaxDataElement(
                data_element_uid=DE, org_unit_uid=OU, category_option_combo_uid=COC, min_value=0, max_value=10
            )
        )
    run_import(payload(value(value="50"), value(categoryOptionCombo="rtfSaMjPyq6", value="50")))
    with loaded.session() as session:
        followup = dict(session.execute(select(DataValue.category_option_combo, DataValue.followup)).all())
    assert followup == {COC: True, "rtfSaMjPyq6": False}


@pytest.mark.parametrize(
    ("body", "fmt", "fragment"),
    [
        (b'{"dataValues": [{"dataElement": "x",', "json", "invalid JSON"),
        (b"<dataValueSet><dataValue ", "xml", "invalid XML"),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
            b'<dataValueSet xmlns="http://dhis2.org/schema/dxf/2.0"><dataValue value="&lol2;"/>'
            b"</dataValueSet>",
            "xml",
            "invalid XML",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]>'
            b'<adx xmlns="urn:ihe:qrph:adx:2015"><group orgUnit="&x;"/></adx>',
            "adx",
            "invalid XML",
        ),
        (b"<somethingElse/>", "xml", "expected a <dataValueSet>"),
    ],
    ids=["truncated-json", "truncated-xml", "entity-bomb", "external-entity", "wrong-root"],
)
def test_malformed_payloads_fail_the_import(
    run_import: Importer, body: bytes, fmt: str, fragment: str
) -> None:
    summary = run_import(body, fmt)
    assert summary.status == "ERROR"
    assert fragment in summary.description


def test_big_payloads_write_through_the_writer_process_with_the_same_outcome(
    run_import: Importer, loaded: Database, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every payload counts as big: stores and deliveries happen in the separate writer process
    monkeypatch.setattr("hub.dhis2.datavalues.service.PROCESS_MIN_BYTES", 0)
    monkeypatch.setattr("hub.dhis2.datavalues.service.CHUNK", 100)
    body = shared(shared_data, "aggregate-dataValues-bulk.json")
    summary = run_import(body, targets=[target("a")])
    assert summary.count.imported == 231 and stored(loaded) == 231
    with loaded.session() as session:
        deliveries = list(session.scalars(select(Delivery).order_by(Delivery.id)))
    assert len(deliveries) == 3
    assert sum(len(orjson.loads(d.body)["dataValues"]) for d in deliveries) == 231
    again = run_import(body)
    assert (again.count.imported, again.count.updated) == (0, 231)
