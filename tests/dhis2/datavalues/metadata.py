"""Metadata the shared DHIS2 payloads refer to, loaded through the metadata importer.

The aggregate-* payloads use the shared exports as they are; the dataValueSetB* and ADX files come
from other DHIS2 test setups, so their data elements, org units, codes, attribute values and
categories are declared here (derived, never edited, from what the files name).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.db.session import Database
from hub.dhis2.metadata.importer import import_metadata
from hub.dhis2.metadata.stream import from_document, read_export

ATTRIBUTE = "uh6H2ff562G"
ROOT = "RootOrgUnit"
ADX_ROOT = "AdxRootUnit"
OPENED = "2000-01-01"


def _attr(value: str) -> list[dict[str, Any]]:
    return [{"attribute": {"id": ATTRIBUTE}, "value": value}]


def _unit(uid: str, code: str, parent: str | None, attr: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": uid,
        "name": f"Unit {code}",
        "shortName": code,
        "code": code,
        "openingDate": OPENED,
    }
    if parent:
        doc["parent"] = {"id": parent}
    if attr:
        doc["attributeValues"] = _attr(attr)
    return doc


def dataset_b() -> dict[str, Any]:
    """dataValueSetB.{csv,xml}, its code (DE_A, OU_A) and attribute (DE1, OU1) variants."""
    elements = [
        ("f7n9E0hX8qk", "DE_A", "DE1"),
        ("Ix2HsbDMLea", "DE_B", "DE2"),
        ("eY5ehpbEsB7", "DE_C", "DE3"),
    ]
    return {
        "organisationUnits": [
            _unit(ROOT, "ROOT", None),
            _unit("DiszpKrYNg8", "OU_A", ROOT, "OU1"),
            _unit("BdfsJfj87js", "OU_B", ROOT, "OU2"),
        ],
        "dataElements": [
            {
                "id": uid,
                "name": f"Element {code}",
                "shortName": code,
                "code": code,
                "valueType": "INTEGER",
                "aggregationType": "SUM",
                "domainType": "AGGREGATE",
                "categoryCombo": {"id": "bjDvmb4bfuf"},
                "attributeValues": _attr(attr),
            }
            for uid, code, attr in elements
        ],
        "dataSets": [
            {
                "id": "pBOMPrpg1QX",
                "name": "Data set B",
                "code": "DS_B",
                "periodType": "Monthly",
                "dataSetElements": [{"dataElement": {"id": uid}} for uid, _, _ in elements],
                "organisationUnits": [{"id": "DiszpKrYNg8"}, {"id": "BdfsJfj87js"}],
            }
        ],
    }


def _options(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"id": uid, "name": code, "shortName": code, "code": code} for uid, code in pairs]


def adx() -> dict[str, Any]:
    """importA.adx.xml: codes for data sets, org units, categories and options; COCs by code too."""
    sex = [("SexFemale01", "FFFFFFFFFFF"), ("SexMale0001", "MMMMMMMMMMM")]
    age = [("AgeUnder501", "under555555"), ("AgeOver5001", "over5555555")]
    mechanism = [("MechPepfar1", "PEPFARRRRRR"), ("MechMcDonal", "McDonaldsss")]
    cocs = [
        {
            "id": f"Coc{s[0][3]}{a[0][3]}000001"[:11],
            "name": f"{s[1]},{a[1]}",
            "code": code,
            "categoryCombo": {"id": "SexAgeCombo"},
            "categoryOptions": [{"id": s[0]}, {"id": a[0]}],
        }
        for s, a, code in [
            (sex[0], age[0], "FUnder55555"),
            (sex[1], age[0], "MUnder55555"),
            (sex[0], age[1], "FOver555555"),
            (sex[1], age[1], "MOver555555"),
        ]
    ]
    cocs += [
        {
            "id": "AocPepfar01",
            "name": "PEPFAR",
            "code": "cocPepfar",
            "categoryCombo": {"id": "MechCombo01"},
            "categoryOptions": [{"id": mechanism[0][0]}],
        },
        {
            "id": "AocMcDonald",
            "name": "McDonalds",
            "code": "cocMcDonald",
            "categoryCombo": {"id": "MechCombo01"},
            "categoryOptions": [{"id": mechanism[1][0]}],
        },
    ]
    return {
        "organisationUnits": [
            _unit(ADX_ROOT, "ADXROOT", None),
            _unit("AdxUnit0123", "123", ADX_ROOT),
            _unit("AdxUnit0456", "456", ADX_ROOT),
        ],
        "categoryOptions": _options(*sex, *age, *mechanism),
        "categories": [
            {
                "id": "SexCategory",
                "name": "Sex",
                "shortName": "Sex",
                "code": "Sex_category",
                "dataDimensionType": "DISAGGREGATION",
                "categoryOptions": [{"id": u} for u, _ in sex],
            },
            {
                "id": "AgeCategory",
                "name": "Age",
                "shortName": "Age",
                "code": "Age_category",
                "dataDimensionType": "DISAGGREGATION",
                "categoryOptions": [{"id": u} for u, _ in age],
            },
            {
                "id": "MechCategry",
                "name": "Mechanism",
                "shortName": "Mechanism",
                "code": "Mechanism_category",
                "dataDimensionType": "ATTRIBUTE",
                "categoryOptions": [{"id": u} for u, _ in mechanism],
            },
        ],
        "categoryCombos": [
            {
                "id": "SexAgeCombo",
                "name": "Sex and age",
                "code": "SEX_AGE",
                "dataDimensionType": "DISAGGREGATION",
                "categories": [{"id": "SexCategory"}, {"id": "AgeCategory"}],
            },
            {
                "id": "MechCombo01",
                "name": "Mechanism",
                "code": "MECH",
                "dataDimensionType": "ATTRIBUTE",
                "categories": [{"id": "MechCategry"}],
            },
        ],
        "categoryOptionCombos": cocs,
        "dataElements": [
            {
                "id": "MalariaNum1",
                "name": "Malaria numeric",
                "shortName": "Malaria numeric",
                "code": "Malaria numeric",
                "valueType": "INTEGER",
                "aggregationType": "SUM",
                "domainType": "AGGREGATE",
                "categoryCombo": {"id": "SexAgeCombo"},
                "zeroIsSignificant": True,
            },
            {
                "id": "MalariaTxt1",
                "name": "Malaria text",
                "shortName": "Malaria text",
                "code": "Malaria text",
                "valueType": "TEXT",
                "aggregationType": "NONE",
                "domainType": "AGGREGATE",
                "categoryCombo": {"id": "bjDvmb4bfuf"},
            },
        ],
        "dataSets": [
            {
                "id": "MalariaDS01",
                "name": "Malaria",
                "code": "MalariaDS",
                "periodType": "Monthly",
                "dataSetElements": [
                    {"dataElement": {"id": "MalariaNum1"}},
                    {"dataElement": {"id": "MalariaTxt1"}},
                ],
                "organisationUnits": [{"id": "AdxUnit0123"}, {"id": "AdxUnit0456"}],
            },
            {
                "id": "MalariaMech",
                "name": "Malaria mechanism",
                "code": "MalariaMechanismDS",
                "periodType": "Quarterly",
                "categoryCombo": {"id": "MechCombo01"},
                "dataSetElements": [{"dataElement": {"id": "MalariaNum1"}}],
                "organisationUnits": [{"id": "AdxUnit0456"}],
            },
        ],
    }


def load_shared(db: Database, shared: Path) -> None:
    """The shared setup and aggregate exports, as DHIS2 published them."""
    for name in ("setup-metadata.json", "aggregate-metadata.json"):
        with (shared / "dhis2" / name).open("rb") as fh, db.session() as session:
            assert import_metadata(session, source=read_export(fh)).status == "OK"


def load(db: Database, document: dict[str, Any]) -> None:
    with db.session() as session:
        report = import_metadata(session, source=from_document(document))
        assert report.status == "OK", report


LEGACY_GROUP, SHARED_GROUP, READ_ONLY_GROUP = "LegacyGrp01", "SharedGrp01", "ReadOnlyGr1"


def access() -> dict[str, Any]:
    """Category options shared for data writing in both DHIS2 forms, each alone in an option combo
    of ``AccessDE001`` (data set ``AccessDS001``, Monthly, at OU_A): ``publicAccess`` with
    ``userGroupAccesses`` (before 2.36), ``sharing`` (2.36+), and one any client may write."""
    options = [
        {"id": "LegacyOpt01", "name": "Legacy", "shortName": "Legacy", "publicAccess": "rw------",
         "userGroupAccesses": [{"userGroupUid": LEGACY_GROUP, "access": "rwrw----"}]},
        {"id": "SharedOpt01", "name": "Shared", "shortName": "Shared",
         "sharing": {"public": "rwr-----", "external": False, "users": {},
                     "userGroups": {SHARED_GROUP: {"id": SHARED_GROUP, "access": "r-rw----"},
                                    READ_ONLY_GROUP: {"id": READ_ONLY_GROUP, "access": "rwr-----"}}}},
        {"id": "PublicOpt01", "name": "Public", "shortName": "Public", "publicAccess": "rwrw----"},
    ]  # fmt: skip
    cocs = [
        {"id": coc, "name": option["name"], "categoryCombo": {"id": "AccessCombo"},
         "categoryOptions": [{"id": option["id"]}]}
        for coc, option in zip(("AccLegacy01", "AccShared01", "AccPublic01"), options, strict=True)
    ]  # fmt: skip
    return {
        "categoryOptions": options,
        "categories": [
            {"id": "AccessCat01", "name": "Access", "shortName": "Access",
             "dataDimensionType": "DISAGGREGATION", "categoryOptions": [{"id": o["id"]} for o in options]},
        ],
        "categoryCombos": [
            {"id": "AccessCombo", "name": "Access", "dataDimensionType": "DISAGGREGATION",
             "categories": [{"id": "AccessCat01"}]},
        ],
        "categoryOptionCombos": cocs,
        "dataElements": [
            {"id": "AccessDE001", "name": "Access element", "shortName": "Access element",
             "valueType": "INTEGER", "aggregationType": "SUM", "domainType": "AGGREGATE",
             "categoryCombo": {"id": "AccessCombo"}},
        ],
        "dataSets": [
            {"id": "AccessDS001", "name": "Access", "periodType": "Monthly",
             "dataSetElements": [{"dataElement": {"id": "AccessDE001"}}],
             "organisationUnits": [{"id": "DiszpKrYNg8"}]},
        ],
    }  # fmt: skip
