"""A stand-in DHIS2 for the sync tests, on ``responses``: paged collections and system info."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

BASE = "http://dhis2.test"
JSON = {"Content-Type": "application/json"}


def org_unit(uid: str, name: str, parent: str | None = None) -> dict[str, Any]:
    unit: dict[str, Any] = {
        "id": uid,
        "name": name,
        "shortName": name,
        "openingDate": "2000-01-01T00:00:00.000",
    }
    if parent:
        unit["parent"] = {"id": parent}
    return unit


class FakeDhis2:
    """Serves paged collections like DHIS2 and records every query it received."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.collections: dict[str, list[dict[str, Any]]] = {}
        self.server_date = "2024-05-01T10:00:00.000"
        self.queries: list[tuple[str, dict[str, list[str]]]] = []
        self.paths: list[str] = []
        mock.add_callback(responses.GET, f"{BASE}/api/system/info", callback=self._info)
        mock.add_callback(
            responses.GET, re.compile(rf"{re.escape(BASE)}/api/(\d+/)?(?!system)\w+"), callback=self._page
        )

    def _info(self, _request: Any) -> tuple[int, dict[str, str], str]:
        return 200, JSON, json.dumps({"version": "2.40.1", "serverDate": self.server_date})

    def _page(self, request: Any) -> tuple[int, dict[str, str], str]:
        url = urlsplit(request.url)
        key = url.path.rsplit("/", 1)[-1]
        self.paths.append(url.path)
        query = parse_qs(url.query)
        self.queries.append((key, query))
        page, size = int(query["page"][0]), int(query["pageSize"][0])
        objects = self.collections.get(key, [])
        for f in query.get("filter", []):
            _, _, since = f.partition(":gt:")
            objects = [o for o in objects if o.get("lastUpdated", "") > since]
        count = max(1, -(-len(objects) // size))
        body = {
            "pager": {"page": page, "pageCount": count, "total": len(objects), "pageSize": size},
            key: objects[(page - 1) * size : page * size],
        }
        return 200, JSON, json.dumps(body)


@pytest.fixture
def dhis2() -> Iterator[FakeDhis2]:
    """A fake DHIS2 at ``BASE``; put objects in ``dhis2.collections[<type key>]``."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeDhis2(mock)
