"""DHIS2 sharing of a cached object: who may write data against it.

DHIS2 exports sharing in two forms: up to 2.35 ``publicAccess`` (``"rwrw----"``) with
``userGroupAccesses``/``userAccesses`` lists, from 2.36 ``sharing: {public, userGroups: {uid:
{id, access}}, users: {...}}`` (an export may carry both; ``sharing`` then wins). The cache keeps the
2.36 form. An access string's characters are metadata read/write, then data read/write, so the
fourth says whether data may be written (DHIS2's ``AccessStringHelper``).
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any

DATA_WRITE = 3  # position of the data-write flag in an access string
Sharing = dict[str, Any]  # {"public": str | None, "userGroups": {uid: {...}}, "users": {uid: {...}}}


def from_wire(obj: dict[str, Any]) -> Sharing | None:
    """The object's sharing in the 2.36 form; None when the export says nothing about it."""
    sharing = obj.get("sharing")
    if isinstance(sharing, dict):
        return {
            "public": sharing.get("public"),
            "userGroups": _from_map(sharing.get("userGroups")),
            "users": _from_map(sharing.get("users")),
        }
    if not any(key in obj for key in ("publicAccess", "userGroupAccesses", "userAccesses")):
        return None
    return {
        "public": obj.get("publicAccess"),
        "userGroups": _from_list(obj.get("userGroupAccesses"), "userGroupUid"),
        "users": _from_list(obj.get("userAccesses"), "userUid"),
    }


def _entry(uid: str, access: Any) -> dict[str, str]:
    return {"id": uid, "access": access if isinstance(access, str) else ""}


def _from_map(accesses: Any) -> dict[str, dict[str, str]]:
    if not isinstance(accesses, dict):
        return {}
    return {
        uid: _entry(uid, entry.get("access")) for uid, entry in accesses.items() if isinstance(entry, dict)
    }


def _from_list(accesses: Any, uid_key: str) -> dict[str, dict[str, str]]:
    """``[{userGroupUid or id, access}]`` (before 2.36) keyed by the group's or user's UID."""
    found: dict[str, dict[str, str]] = {}
    for entry in accesses or ():
        if not isinstance(entry, dict):
            continue
        uid = entry.get(uid_key) or entry.get("id")
        if isinstance(uid, str):
            found[uid] = _entry(uid, entry.get("access"))
    return found


def allows_data_write(access: str | None) -> bool:
    return access is not None and len(access) > DATA_WRITE and access[DATA_WRITE] == "w"


def can_write_data(sharing: Sharing | None, groups: Set[str]) -> bool:
    """Whether a member of ``groups`` may write data: public data write, or one of its groups has it.

    No sharing on record means the export did not say, and the object is treated as public.
    """
    if sharing is None or allows_data_write(sharing.get("public")):
        return True
    return any(
        allows_data_write(entry.get("access"))
        for uid, entry in (sharing.get("userGroups") or {}).items()
        if uid in groups
    )
