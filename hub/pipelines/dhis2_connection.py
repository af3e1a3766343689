"""Connection fields (an Airflow connection's, or the CLI's) → the DHIS2 adapter's config."""

from __future__ import annotations

from typing import Any

from adapters.dhis2 import Dhis2Config


def dhis2_config(
    *,
    host: str,
    login: str | None,
    password: str | None,
    port: int | None = None,
    extra: dict[str, Any] | None = None,
) -> Dhis2Config:
    """A DHIS2 config from connection fields (an Airflow connection's). ``host`` may be a whole URL
    (``https://dhis.example.org/dhis``), else https is assumed; ``extra.base_url`` overrides it.
    Basic with a login, else the password (or ``extra.personal_access_token``) is a personal
    access token."""
    extra = extra or {}
    base_url = extra.get("base_url") or (
        host if "://" in host else f"https://{host}{f':{port}' if port else ''}"
    )
    token = extra.get("personal_access_token")
    if login:
        return Dhis2Config(base_url=base_url, username=login, password=password)
    return Dhis2Config(base_url=base_url, personal_access_token=token or password)
