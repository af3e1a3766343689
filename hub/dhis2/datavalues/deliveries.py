"""Accepted values as outbox deliveries: one ``POST /api/dataValueSets`` per chunk and DHIS2 target.

Ids are UIDs after resolution, so the target needs no id scheme of its own; the credentials stay
in the environment (the delivery only names the variable, as a channel route does).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson

from hub.dhis2.config import Dhis2Target
from hub.dhis2.datavalues.validation import Row
from hub.outbox.service import DeliverySpec
from hub.settings import Settings

UID_SCHEMES = {
    key: "UID"
    for key in ("idScheme", "dataElementIdScheme", "orgUnitIdScheme", "categoryOptionComboIdScheme",
                "attributeOptionComboIdScheme", "dataSetIdScheme")
}  # fmt: skip


def _value(row: Row) -> dict[str, Any]:
    ou, pe, de, coc, aoc, value, comment, stored_by, followup, remove, _ = row
    doc: dict[str, Any] = {"dataElement": de, "period": pe, "orgUnit": ou, "categoryOptionCombo": coc,
                           "attributeOptionCombo": aoc, "value": value, "followup": followup}  # fmt: skip
    if comment is not None:
        doc["comment"] = comment
    if stored_by is not None:
        doc["storedBy"] = stored_by
    if remove:
        doc["deleted"] = True
    return doc


def route_name(target: Dhis2Target) -> str:
    return f"dhis2:{target.name}"


def post(
    path: str, body: bytes, *, query: dict[str, str], targets: list[Dhis2Target], settings: Settings
) -> list[DeliverySpec]:
    """One ``POST <base><path>?<query>`` of ``body`` (JSON) per target."""
    return [
        DeliverySpec(
            route_name=route_name(target),
            method="POST",
            url=f"{target.base_url.rstrip('/')}{path}?{urlencode({**UID_SCHEMES, **query})}",
            headers={"Content-Type": "application/json"},
            body=body,
            timeout_s=settings.upstream_timeout_s,
            max_attempts=settings.outbox_max_attempts,
            auth=target.auth.model_dump(),
        )
        for target in targets
    ]


def for_chunk(
    rows: list[Row], *, targets: list[Dhis2Target], strategy: str, settings: Settings
) -> list[DeliverySpec]:
    """One delivery per target carrying ``rows``; none when there are no rows or no targets."""
    if not rows or not targets:
        return []
    body = orjson.dumps({"dataValues": [_value(row) for row in rows]})
    return post(
        "/api/dataValueSets", body, query={"importStrategy": strategy}, targets=targets, settings=settings
    )
