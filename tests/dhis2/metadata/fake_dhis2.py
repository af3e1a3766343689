"""A stand-in DHIS2 for the sync tests, on ``responses``: paged collections, ``/api/deletedObjects``
and system info, shaped as DHIS2 answers them."""

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


def deleted_object(uid: str, klass: str, deleted_at: str, code: str | None = None) -> dict[str, Any]:
    """A row of ``/api/deletedObjects``: ``klass`` fully qualified, as DHIS2 answers it."""
    return {"uid": uid, "klass": klass, "code": code, "deletedAt": deleted_at, "deletedBy": "admin"}


def _paged(key: str, objects: list[dict[str, Any]], query: dict[str, list[str]]) -> str:
    page, size = int(query["page"][0]), int(query["pageSize"][0])
    count = max(1, -(-len(objects) // size))
    return json.dumps(
        {
            "pager": {"page": page, "pageCount": count, "total": len(objects), "pageSize": size},
            key: objects[(page - 1) * size : page * size],
        }
    )


class FakeDhis2:
    """Serves paged collections and deleted objects like DHIS2 and records every query it received."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.collections: dict[str, list[dict[str, Any]]] = {}
        self.deleted: list[dict[str, Any]] = []  # rows of /api/deletedObjects (see deleted_object)
        self.version = "2.40.1"
        self.server_date = "2024-05-01T10:00:00.000"
        self.queries: list[tuple[str, dict[str, list[str]]]] = []
        self.deleted_queries: list[dict[str, list[str]]] = []
        self.paths: list[str] = []
        mock.add_callback(responses.GET, f"{BASE}/api/system/info", callback=self._info)
        mock.add_callback(
            responses.GET, re.compile(rf"{re.escape(BASE)}/api/(\d+/)?deletedObjects"), callback=self._deleted
        )
        mock.add_callback(
            responses.GET,
            re.compile(rf"{re.escape(BASE)}/api/(\d+/)?(?!system|deletedObjects)\w+"),
            callback=self._page,
        )

    def _info(self, _request: Any) -> tuple[int, dict[str, str], str]:
        return 200, JSON, json.dumps({"version": self.version, "serverDate": self.server_date})

    def _deleted(self, request: Any) -> tuple[int, dict[str, str], str]:
        """DHIS2's filters: ``klass`` by simple class name, ``deletedAt`` at or after that time."""
        query = parse_qs(urlsplit(request.url).query)
        self.deleted_queries.append(query)
        klasses = {k for value in query.get("klass", []) for k in value.split(",")}
        since = query.get("deletedAt", [""])[0]
        rows = [
            row
            for row in self.deleted
            if (not klasses or row["klass"].rsplit(".", 1)[-1] in klasses) and row["deletedAt"] >= since
        ]
        return 200, JSON, _paged("deletedObjects", rows, query)

    def _page(self, request: Any) -> tuple[int, dict[str, str], str]:
        url = urlsplit(request.url)
        key = url.path.rsplit("/", 1)[-1]
        self.paths.append(url.path)
        query = parse_qs(url.query)
        self.queries.append((key, query))
        objects = self.collections.get(key, [])
        for f in query.get("filter", []):
            _, _, since = f.partition(":gt:")
            objects = [o for o in objects if o.get("lastUpdated", "") > since]
        return 200, JSON, _paged(key, objects, query)


@pytest.fixture
def dhis2() -> Iterator[FakeDhis2]:
    """A fake DHIS2 at ``BASE``; put objects in ``dhis2.collections[<type key>]``."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeDhis2(mock)
