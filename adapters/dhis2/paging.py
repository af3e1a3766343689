"""Walking DHIS2's paged collections (``pager{page, pageCount, total, pageSize, nextPage}``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.dhis2.client import Dhis2Client

Fields = str | Sequence[str] | None
Filters = str | Sequence[str] | None


def query(
    fields: Fields = None, filter: Filters = None, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Query parameters for ``fields`` (joined with commas) and ``filter`` (repeated: DHIS2 ANDs them)."""
    result = dict(params or {})
    if fields:
        result["fields"] = fields if isinstance(fields, str) else ",".join(fields)
    if filter:
        result["filter"] = [filter] if isinstance(filter, str) else list(filter)
    return result


def pages(
    client: Dhis2Client,
    resource: str,
    *,
    fields: Fields = None,
    filter: Filters = None,
    page_size: int = 50,
    paging: bool = True,
    params: Mapping[str, Any] | None = None,
    key: str | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Yield the objects of ``resource`` one page (a list) at a time; see :meth:`Dhis2Client.pages`."""
    key = key or resource.rstrip("/").rsplit("/", 1)[-1]
    base = query(fields, filter, params)
    if not paging:
        _, items = _fetch(client, resource, {**base, "paging": "false"}, key)
        yield items
        return
    page = 1
    while True:
        body, items = _fetch(client, resource, {**base, "page": page, "pageSize": page_size}, key)
        yield items
        if not items or not _has_next(body.get("pager") or {}, page, len(items), page_size):
            return
        page += 1


def _fetch(
    client: Dhis2Client, resource: str, params: dict[str, Any], key: str
) -> tuple[Mapping[str, Any], list[dict[str, Any]]]:
    def items(body: Any, _status: int) -> tuple[Mapping[str, Any], list[dict[str, Any]]]:
        # The tracker collections (/api/tracker/…) named their list "instances" before 2.41.
        found = body.get(key, body.get("instances")) if isinstance(body, Mapping) else None
        if not isinstance(found, list):
            raise ValueError(f"the response holds no {key!r} list")
        return body, found

    return client.parse(client.send("GET", resource, params=params), items)


def _has_next(pager: Mapping[str, Any], page: int, count: int, page_size: int) -> bool:
    if "pageCount" in pager:
        return page < int(pager["pageCount"])
    if "nextPage" in pager:
        return bool(pager["nextPage"])
    # Tracker collections leave out totals unless asked (totalPages=true): a full page may have a next.
    return count >= page_size
