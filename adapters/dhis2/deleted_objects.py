"""What DHIS2 deleted: ``GET /api/deletedObjects`` (DHIS2 2.30 and later).

DHIS2 keeps a row per deleted metadata object and pages them like any collection::

    {"pager": {"page": 1, "pageCount": 1, "total": 1, "pageSize": 50},
     "deletedObjects": [{"uid": "DiszpKrYNg8", "klass": "org.hisp.dhis.organisationunit.OrganisationUnit",
                         "code": "OU_559", "deletedAt": "2024-05-02T08:12:40.123", "deletedBy": "admin"}]}

The ``klass`` filter takes the simple class name (``OrganisationUnit``) while the rows carry the
fully qualified one; ``deletedAt`` keeps the objects deleted at or after that time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from adapters.dhis2.errors import UnsupportedByVersion
from adapters.dhis2.paging import pages

if TYPE_CHECKING:
    from adapters.dhis2.client import Dhis2Client

FIRST_VERSION = "2.30"


@dataclass(frozen=True)
class DeletedObject:
    uid: str
    klass: str  # fully qualified: org.hisp.dhis.organisationunit.OrganisationUnit
    code: str | None
    deleted_at: datetime | None
    deleted_by: str | None

    @property
    def simple_klass(self) -> str:
        return self.klass.rsplit(".", 1)[-1]

    @classmethod
    def from_wire(cls, item: Mapping[str, Any]) -> DeletedObject:
        deleted_at = item.get("deletedAt")
        return cls(
            uid=str(item["uid"]),
            klass=str(item.get("klass") or ""),
            code=item.get("code"),
            deleted_at=_timestamp(deleted_at) if isinstance(deleted_at, str) else None,
            deleted_by=item.get("deletedBy"),
        )


def _timestamp(value: str) -> datetime:
    """DHIS2's ``2024-05-02T08:12:40.123`` (zone-less means the server's UTC) as an aware datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_since(value: datetime) -> str:
    """``deletedAt`` as DHIS2 parses it: UTC, milliseconds, no zone (a naive value is taken as UTC)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")


def deleted_objects(
    client: Dhis2Client,
    klass: str | Sequence[str],
    *,
    deleted_at: datetime | None = None,
    page_size: int = 50,
) -> Iterator[list[DeletedObject]]:
    """The deleted objects of ``klass`` (simple class names), one page at a time; see
    :meth:`Dhis2Client.deleted_objects`. :class:`UnsupportedByVersion` before 2.30."""
    if client.version < FIRST_VERSION:
        raise UnsupportedByVersion(
            f"/api/deletedObjects exists from DHIS2 {FIRST_VERSION}: not on {client.version}"
        )
    params: dict[str, Any] = {"klass": [klass] if isinstance(klass, str) else list(klass)}
    if deleted_at is not None:
        params["deletedAt"] = format_since(deleted_at)
    for page in pages(client, "deletedObjects", params=params, page_size=page_size):
        yield [
            DeletedObject.from_wire(item) for item in page if isinstance(item, Mapping) and item.get("uid")
        ]
