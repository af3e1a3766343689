"""Walking paged collections with fields and filters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import responses

from adapters.dhis2 import AdapterError, Dhis2Client
from tests.adapters.dhis2.conftest import sent
from tests.adapters.dhis2.wire import BASE


def org_units(first: int, count: int) -> list[dict[str, Any]]:
    return [{"id": f"OU{n:09d}", "name": f"Facility {n}", "level": 4} for n in range(first, first + count)]


def page(number: int, page_count: int, total: int, items: list[dict[str, Any]]) -> dict[str, Any]:
    pager: dict[str, Any] = {"page": number, "pageCount": page_count, "total": total, "pageSize": 2}
    if number < page_count:
        pager["nextPage"] = f"{BASE}/api/organisationUnits?page={number + 1}&pageSize=2"
    return {"pager": pager, "organisationUnits": items}


def test_pages_follow_the_pager_with_fields_and_filters(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    url = f"{BASE}/api/organisationUnits"
    rsps.get(url, json=page(1, 3, 5, org_units(0, 2)))
    rsps.get(url, json=page(2, 3, 5, org_units(2, 2)))
    rsps.get(url, json=page(3, 3, 5, org_units(4, 1)))

    pages = list(
        dhis2(None).pages(
            "organisationUnits",
            fields=["id", "name", "level"],
            filter=["level:eq:4", "name:like:Facility"],
            page_size=2,
        )
    )

    assert [len(p) for p in pages] == [2, 2, 1]
    assert [ou["id"] for p in pages for ou in p] == [f"OU{n:09d}" for n in range(5)]
    calls = sent(rsps)
    assert [c.params["page"] for c in calls] == ["1", "2", "3"]
    for call in calls:
        assert call.method == "GET" and call.path == "/dhis/api/organisationUnits"
        assert call.query["fields"] == ["id,name,level"]
        assert call.query["filter"] == ["level:eq:4", "name:like:Facility"]
        assert call.params["pageSize"] == "2"


def test_paging_false_fetches_everything_at_once(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    rsps.get(
        f"{BASE}/api/dataElements", json={"dataElements": [{"id": "fbfJHSPpUQD"}, {"id": "cYeuwXTCPkU"}]}
    )

    pages = list(dhis2(None).pages("dataElements", fields="id", paging=False))

    assert pages == [[{"id": "fbfJHSPpUQD"}, {"id": "cYeuwXTCPkU"}]]
    [call] = sent(rsps)
    assert call.params == {"fields": "id", "paging": "false"}


@pytest.mark.parametrize(
    ("key", "sizes"),
    [("instances", [2, 2, 1]), ("trackedEntities", [2, 2, 0])],
    ids=["instances-before-2.41", "named-list-2.41"],
)
def test_pager_without_totals_stops_on_a_short_page(
    key: str, sizes: list[int], dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    url = f"{BASE}/api/tracker/trackedEntities"
    start = 0
    for size in sizes:
        items = [{"trackedEntity": f"TE{n:09d}"} for n in range(start, start + size)]
        rsps.get(url, json={"pager": {"page": 1, "pageSize": 2}, key: items})
        start += size

    pages = list(dhis2(None).pages("tracker/trackedEntities", page_size=2, params={"orgUnit": "O6uvpzGd5pu"}))

    assert [len(p) for p in pages] == sizes
    assert [c.params["page"] for c in sent(rsps)] == ["1", "2", "3"]
    assert all(c.params["orgUnit"] == "O6uvpzGd5pu" for c in sent(rsps))


def test_a_reply_without_the_list_is_an_adapter_error(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/api/organisationUnits", json={"pager": {"page": 1, "pageCount": 1}})

    with pytest.raises(AdapterError, match="holds no 'organisationUnits' list") as caught:
        list(dhis2(None).pages("organisationUnits"))
    assert caught.value.status == 200
