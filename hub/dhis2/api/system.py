"""``/api/system/info`` and ``/api/me``: what DHIS2 clients ask first, answered for the hub."""

from __future__ import annotations

import hashlib
import string
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query, Request

from hub.auth.principal import Principal
from hub.dhis2.api.common import Dhis2ClientDep, Dhis2ConfigDep, api_path, dhis2_router
from hub.dhis2.metadata.fields import parse_fields, select_fields
from hub.dhis2.metadata.schema import format_timestamp
from hub.errors import BadRequest

router = dhis2_router(tags=["DHIS2 system"])

DATA_AUTHORITIES = ("F_DATAVALUE_ADD", "F_DATAVALUE_DELETE", "M_dhis-web-dataentry")
_ALPHABET = string.ascii_letters + string.digits


def stable_uid(name: str) -> str:
    """A DHIS2-shaped UID derived from ``name``, the same on every call (clients cache user ids)."""
    digest = hashlib.sha256(name.encode()).digest()
    return string.ascii_letters[digest[0] % 52] + "".join(_ALPHABET[b % 62] for b in digest[1:11])


@router.get(api_path("/system/info"))
def system_info(request: Request, config: Dhis2ConfigDep, _client: Dhis2ClientDep) -> dict[str, Any]:
    system = config.system
    return {
        "version": system.version,
        "revision": system.revision,
        "buildTime": None,
        "serverDate": format_timestamp(datetime.now(UTC)),
        "serverTimeZoneId": system.server_time_zone_id,
        "serverTimeZoneDisplayName": system.server_time_zone_id,
        "contextPath": str(request.base_url).rstrip("/"),
        "systemName": system.system_name,
        "calendar": "iso8601",
        "dateFormat": "yyyy-mm-dd",
    }


def _as_user(client: Principal, data_roles: list[str]) -> dict[str, Any]:
    roles = [{"id": stable_uid(f"role:{r}"), "name": r, "displayName": r} for r in sorted(client.roles)]
    authorities = sorted(client.roles)
    if client.roles & set(data_roles):
        authorities += DATA_AUTHORITIES
    org_units = [{"id": uid} for uid in client.org_units]
    return {
        "id": stable_uid(f"client:{client.name}"),
        "username": client.name,
        "name": client.name,
        "displayName": client.name,
        "firstName": client.name,
        "surname": "",
        "organisationUnits": org_units,
        "dataViewOrganisationUnits": org_units,
        "userRoles": roles,
        "authorities": authorities,
        "userCredentials": {"username": client.name, "userRoles": roles},
    }


@router.get(api_path("/me"))
def me(
    client: Dhis2ClientDep,
    config: Dhis2ConfigDep,
    fields: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults per request
) -> dict[str, Any]:
    """The calling client as a DHIS2 user: its org units and its roles as user roles."""
    user = _as_user(client, config.data_roles)
    if not fields:
        return user
    try:
        return select_fields(user, parse_fields(",".join(fields)))
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
