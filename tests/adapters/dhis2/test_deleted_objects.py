"""``client.deleted_objects``: DHIS2's ``/api/deletedObjects``, paged, filtered by class and time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import responses

from adapters.dhis2 import DeletedObject, Dhis2Client, UnsupportedByVersion
from tests.adapters.dhis2.conftest import sent
from tests.adapters.dhis2.wire import BASE

ORG_UNIT = "org.hisp.dhis.organisationunit.OrganisationUnit"


def page(number: int, page_count: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    pager = {"page": number, "pageCount": page_count, "total": 3, "pageSize": 2}
    return {"pager": pager, "deletedObjects": rows}


def row(uid: str, code: str | None = None) -> dict[str, Any]:
    return {
        "uid": uid,
        "klass": ORG_UNIT,
        "code": code,
        "deletedAt": "2024-05-02T08:12:40.123",
        "deletedBy": "admin",
    }


def test_pages_of_deleted_objects_since_a_time(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    url = f"{BASE}/api/deletedObjects"
    rsps.get(url, json=page(1, 2, [row("DiszpKrYNg8", "OU_559"), row("g8upMTyEZGZ")]))
    rsps.get(url, json=page(2, 2, [row("YuQRtpLP10I")]))
    since = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))

    pages = list(dhis2("2.40.3").deleted_objects("OrganisationUnit", deleted_at=since, page_size=2))

    assert [[d.uid for d in p] for p in pages] == [["DiszpKrYNg8", "g8upMTyEZGZ"], ["YuQRtpLP10I"]]
    assert pages[0][0] == DeletedObject(
        uid="DiszpKrYNg8",
        klass=ORG_UNIT,
        code="OU_559",
        deleted_at=datetime(2024, 5, 2, 8, 12, 40, 123000, tzinfo=UTC),
        deleted_by="admin",
    )
    assert pages[0][0].simple_klass == "OrganisationUnit"
    calls = sent(rsps, "deletedObjects")
    assert [c.params["page"] for c in calls] == ["1", "2"]
    assert all(c.query["klass"] == ["OrganisationUnit"] for c in calls)
    assert all(c.params["deletedAt"] == "2024-05-01T10:00:00.000" for c in calls)  # in UTC


def test_before_2_30_deleted_objects_are_refused(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    with pytest.raises(UnsupportedByVersion, match=r"from DHIS2 2\.30"):
        next(dhis2("2.29").deleted_objects("DataElement"))
    assert sent(rsps, "deletedObjects") == []
