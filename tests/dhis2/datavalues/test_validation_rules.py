"""DHIS2's access and strict import rules over HTTP: category option sharing (E7614/E7616) from both
metadata forms and through role-held user groups, the strict and require options (E7602,
E7630-E7635), ``force`` for superusers only, and options accepted without effect."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from hub.db.session import Database
from hub.dhis2.metadata.models import DataSet
from tests.dhis2.datavalues import metadata
from tests.dhis2.datavalues.conftest import CLIENT, ROOTS, hub_config

DE, OU, COC = "BjDrgVrkBI3", "O6uvpzGd5pu", "oPcWGgS2Liz"  # data set VEM58nY22sO, Monthly
PARTNER, OUTSIDER, SUPERUSER = CLIENT[0], "dhis2-outsider", "dhis2-superuser"
EXTRA_CLIENTS = {
    OUTSIDER: (),
    SUPERUSER: ("admin",),
    "dhis2-legacy": (metadata.LEGACY_GROUP,),
    "dhis2-shared": (metadata.SHARED_GROUP,),
    "dhis2-read-only": (metadata.READ_ONLY_GROUP,),
}


@pytest.fixture
def hub(loaded: Database, make_hub: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The partner (in the shared export's data group) and one client per role set above."""
    monkeypatch.setenv("HUB_TEST_DHIS2_CLIENT_PW", CLIENT[1])
    config = hub_config()
    config["clients"] += [
        {"client_id": name, "name": name, "roles": ["dhis2", *roles],
         "password_env": "HUB_TEST_DHIS2_CLIENT_PW", "org_units": list(ROOTS)}
        for name, roles in EXTRA_CLIENTS.items()
    ]  # fmt: skip
    return make_hub(config)


@pytest.fixture
def access_hub(hub: Any, loaded: Database) -> Any:
    metadata.load(loaded, metadata.access())
    return hub


def value(**overrides: Any) -> dict[str, Any]:
    doc = {"dataElement": DE, "period": "201911", "orgUnit": OU, "categoryOptionCombo": COC, "value": "3"}
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not None}


def access_value(coc: str) -> dict[str, Any]:
    return value(dataElement="AccessDE001", orgUnit="DiszpKrYNg8", categoryOptionCombo=coc)


def post(
    hub: Any,
    values: list[dict[str, Any]],
    *,
    client: str = PARTNER,
    version: int = 41,
    header: dict[str, Any] | None = None,
    **params: str,
) -> httpx.Response:
    body = orjson.dumps({**(header or {}), "dataValues": values})
    with hub.client(client, CLIENT[1]) as http:
        return http.post(
            f"/api/{version}/dataValueSets",
            content=body,
            params=params,
            headers={"Content-Type": "application/json"},
        )


def summary_of(response: httpx.Response) -> dict[str, Any]:
    """The ImportSummary, inside the WebMessage from API 38, as it is up to 37."""
    body = response.json()
    return body.get("response", body)


@dataclass(frozen=True)
class Case:
    """One accepted value, then ``bad`` refused with one conflict."""

    bad: dict[str, Any]
    code: str
    prop: str
    objects: dict[str, str]
    message: str
    params: dict[str, str] = field(default_factory=dict)
    client: str = PARTNER
    good: dict[str, Any] = field(default_factory=value)
    header: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case(
        value(), "E7614", "categoryOptionCombo",
        {"categoryOptionCombo": COC, "categoryOption": "UPvKbcqTEY3"},
        f"Category option combo: `{COC}` option not accessible: `UPvKbcqTEY3`",
        client=OUTSIDER, good=access_value("AccPublic01"),
    ),
    Case(
        value(attributeOptionCombo="igZVvNyxlTM"), "E7616", "attributeOptionCombo",
        {"categoryOptionCombo": "igZVvNyxlTM", "categoryOption": "fjvZIRlTBrp"},
        "Attribute option combo: `igZVvNyxlTM` option not accessible: `fjvZIRlTBrp`",
    ),
    Case(
        value(categoryOptionCombo=None), "E7630", "categoryOptionCombo", {},
        "Category option combo is required but is not specified",
        params={"requireCategoryOptionCombo": "true"},
    ),
    Case(
        value(), "E7631", "attributeOptionCombo", {},
        "Attribute option combo is required but is not specified",
        params={"requireAttributeOptionCombo": "true"}, good=value(attributeOptionCombo="HllvX50cXC0"),
    ),
    Case(
        value(orgUnit="DiszpKrYNg8"), "E7633", "dataElement", {"dataElement": DE, "dataSet": "pBOMPrpg1QX"},
        f"Data element: `{DE}` is not part of dataset: `pBOMPrpg1QX`",
        params={"strictDataElements": "true"}, header={"dataSet": "pBOMPrpg1QX"},
        good=value(dataElement="f7n9E0hX8qk", orgUnit="DiszpKrYNg8", categoryOptionCombo=None),
    ),
    Case(
        value(categoryOptionCombo="t5FrQ0GTvGf"), "E7634", "categoryOptionCombo",
        {"categoryOptionCombo": "t5FrQ0GTvGf", "dataElement": DE},
        f"Category option combo: `t5FrQ0GTvGf` must be part of category combo of data element: `{DE}`",
        params={"strictCategoryOptionCombos": "true"},
    ),
    Case(
        value(attributeOptionCombo="hF0pQZIn6Ch"), "E7635", "attributeOptionCombo",
        {"categoryOptionCombo": "hF0pQZIn6Ch", "dataElement": DE},
        "Attribute option combo: `hF0pQZIn6Ch` must be part of category combo of data sets of data element: "
        f"`{DE}`",
        params={"strictAttributeOptionCombos": "true"}, good=value(attributeOptionCombo="HllvX50cXC0"),
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.code)
def test_each_rule_conflict_in_both_summary_shapes(access_hub: Any, case: Case) -> None:
    def send(version: int) -> httpx.Response:
        return post(access_hub, [case.good, case.bad], client=case.client, version=version,
                    header=case.header, **case.params)  # fmt: skip

    expected = {
        "object": next(iter(case.objects.values()), ""),
        "value": case.message,
        "objects": case.objects,
        "errorCode": case.code,
        "indexes": [1],
        "property": case.prop,
    }
    wrapped = send(41)
    assert (wrapped.status_code, wrapped.json()["status"]) == (409, "WARNING")
    summary = summary_of(wrapped)
    assert summary["conflicts"] == [expected]
    assert summary["rejectedIndexes"] == [1]
    assert summary["importCount"] == {"imported": 1, "updated": 0, "ignored": 1, "deleted": 0}
    plain = send(37)
    assert plain.status_code == 200
    assert plain.json()["responseType"] == "ImportSummary"
    assert plain.json()["conflicts"] == [expected]
    assert "rejectedIndexes" not in plain.json()


def test_without_the_options_dhis2_accepts_what_they_refuse(hub: Any) -> None:
    for case in CASES:
        if case.params:
            response = post(hub, [case.good, case.bad], header=case.header)
            assert response.status_code == 200, (case.code, response.text)


def test_strict_data_elements_needs_a_data_set(hub: Any) -> None:
    response = post(hub, [value()], strictDataElements="true")
    assert (response.status_code, response.json()["status"]) == (409, "ERROR")
    summary = summary_of(response)
    assert [(c["errorCode"], c["value"]) for c in summary["conflicts"]] == [
        ("E7602", "A valid dataset is required")
    ]
    assert summary["importCount"]["imported"] == 0


def test_each_option_not_writable_is_a_conflict_and_the_value_counts_once(hub: Any) -> None:
    summary = summary_of(post(hub, [value(categoryOptionCombo="t5FrQ0GTvGf")], client=OUTSIDER))
    options = {
        (c["errorCode"], c["objects"]["categoryOption"], tuple(c["indexes"])) for c in summary["conflicts"]
    }
    assert options == {("E7614", "UPvKbcqTEY3", (0,)), ("E7614", "FFA9e1yIXCT", (0,))}
    assert summary["importCount"]["ignored"] == 1
    assert summary["rejectedIndexes"] == [0]


ACCESS_COCS = {"AccLegacy01": "LegacyOpt01", "AccShared01": "SharedOpt01", "AccPublic01": "PublicOpt01"}


@pytest.mark.parametrize(
    ("client", "refused"),
    [
        (OUTSIDER, {"AccLegacy01", "AccShared01"}),  # public access reads data, writes none
        ("dhis2-legacy", {"AccShared01"}),  # its group writes through userGroupAccesses
        ("dhis2-shared", {"AccLegacy01"}),  # its group writes through sharing.userGroups
        ("dhis2-read-only", {"AccLegacy01", "AccShared01"}),  # its group only reads data
        (SUPERUSER, set()),
    ],
    ids=["no-group", "publicAccess-group", "sharing-group", "read-only-group", "superuser"],
)
def test_category_option_sharing_from_both_metadata_forms(hub: Any, client: str, refused: set[str]) -> None:
    assert hub.admin().post("/api/metadata", json=metadata.access()).status_code == 200
    response = post(hub, [access_value(coc) for coc in ACCESS_COCS], client=client)
    summary = summary_of(response)
    found = {
        c["objects"]["categoryOptionCombo"]: c["objects"]["categoryOption"] for c in summary["conflicts"]
    }
    assert found == {coc: ACCESS_COCS[coc] for coc in refused}
    assert {c["errorCode"] for c in summary["conflicts"]} <= {"E7614"}
    assert summary["importCount"]["imported"] == len(ACCESS_COCS) - len(refused)


@pytest.mark.parametrize(
    ("client", "force", "refused"),
    [
        (SUPERUSER, "true", []),
        (SUPERUSER, "false", ["E7640", "E7641"]),
        (PARTNER, "true", ["E7640", "E7641"]),
    ],
    ids=["superuser-forces", "superuser-without-force", "partner-cannot-force"],
)
def test_force_waives_expiry_and_future_periods_for_superusers_only(
    hub: Any, loaded: Database, client: str, force: str, refused: list[str]
) -> None:
    with loaded.session() as session:
        session.get(DataSet, "VEM58nY22sO").expiry_days = 10  # type: ignore[union-attr]
    values = [value(), value(period="209901")]  # long expired; beyond the 12 open future periods
    summary = summary_of(post(hub, values, client=client, force=force))
    assert [c["errorCode"] for c in summary["conflicts"]] == refused
    assert summary["importCount"]["imported"] == 2 - len(refused)


def test_preheat_cache_and_skip_audit_are_accepted(hub: Any) -> None:
    response = post(hub, [value()], preheatCache="true", skipAudit="true")
    assert response.status_code == 200, response.text
    assert summary_of(response)["importCount"]["imported"] == 1
