"""Category option sharing in the metadata cache: DHIS2's two wire forms, kept by the sync as by the
file and API imports (one field mapping), and what it says about writing data."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from adapters.dhis2 import Dhis2Client, Dhis2Config
from hub.db.session import Database
from hub.dhis2.metadata import models
from hub.dhis2.metadata.schema import CATEGORY_OPTIONS
from hub.dhis2.metadata.sharing import Sharing, can_write_data, from_wire
from hub.pipelines.dhis2_metadata_sync import sync_metadata
from tests.dhis2.metadata.fake_dhis2 import BASE, FakeDhis2

GROUP, USER = "GroupUid001", "UserUid0001"
LEGACY = {  # before 2.36
    "id": "LegacyOpt01", "name": "Legacy", "publicAccess": "rw------",
    "userGroupAccesses": [{"userGroupUid": GROUP, "access": "rwrw----", "displayName": "Data entry"}],
    "userAccesses": [{"id": USER, "access": "rwr-----"}],
}  # fmt: skip
MODERN = {  # 2.36+, with the derived publicAccess some versions still export
    "id": "SharedOpt01", "name": "Shared", "publicAccess": "rwrw----",
    "sharing": {"owner": USER, "external": False, "public": "r-------", "users": {},
                "userGroups": {GROUP: {"id": GROUP, "access": "rwrw----"}}},
}  # fmt: skip
PLAIN = {"id": "PlainOpt001", "name": "Plain"}
STORED = {
    "LegacyOpt01": {
        "public": "rw------",
        "userGroups": {GROUP: {"id": GROUP, "access": "rwrw----"}},
        "users": {USER: {"id": USER, "access": "rwr-----"}},
    },
    "SharedOpt01": {
        "public": "r-------",
        "userGroups": {GROUP: {"id": GROUP, "access": "rwrw----"}},
        "users": {},
    },
    "PlainOpt001": None,
}


@pytest.mark.parametrize("wire", [LEGACY, MODERN, PLAIN], ids=["publicAccess", "sharing", "none"])
def test_both_wire_forms_read_as_the_236_form(wire: dict[str, Any]) -> None:
    assert from_wire(wire) == STORED[wire["id"]]


@pytest.mark.parametrize(
    ("sharing", "groups", "allowed"),
    [
        (None, set(), True),
        ({"public": "rwrw----"}, set(), True),
        ({"public": "rwr-----", "userGroups": {GROUP: {"access": "rwrw----"}}}, set(), False),
        ({"public": "rwr-----", "userGroups": {GROUP: {"access": "rwrw----"}}}, {GROUP}, True),
        ({"public": "rwrw----", "userGroups": {GROUP: {"access": "rwr-----"}}}, {GROUP}, True),
        ({"public": "--------", "userGroups": {GROUP: {"access": "rwr-----"}}}, {GROUP}, False),
        ({"public": None, "userGroups": {}}, set(), False),
    ],
    ids=[
        "unknown",
        "public",
        "not-a-member",
        "member",
        "public-beats-group",
        "group-reads-only",
        "no-public",
    ],
)
def test_data_write_needs_public_or_a_members_group(
    sharing: Sharing | None, groups: set[str], allowed: bool
) -> None:
    assert can_write_data(sharing, groups) is allowed


def test_the_sync_keeps_sharing_and_the_read_api_shows_it(db: Database, dhis2: FakeDhis2) -> None:
    dhis2.collections["categoryOptions"] = [
        {**wire, "lastUpdated": "2024-04-01T00:00:00.000"} for wire in (LEGACY, MODERN, PLAIN)
    ]
    config = Dhis2Config(base_url=BASE, username="hub", password="district-secret", retries=0)
    with Dhis2Client(config) as client, db.session() as session:
        sync_metadata(session, client=client, source="national")
    with db.session() as session:
        rows = {row.uid: row for row in session.scalars(select(models.CategoryOption))}
        assert {uid: row.sharing for uid, row in rows.items()} == STORED
        assert CATEGORY_OPTIONS.to_wire(rows["SharedOpt01"])["sharing"] == STORED["SharedOpt01"]
        assert "sharing" not in CATEGORY_OPTIONS.to_wire(rows["PlainOpt001"])
