"""Configuration, authentication headers and API-version pinning."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import responses
from pydantic import ValidationError

from adapters.dhis2 import Dhis2Client, Dhis2Config
from tests.adapters.dhis2.conftest import BASIC_HEADER, PASSWORD, TOKEN, sent
from tests.adapters.dhis2.wire import BASE


@pytest.mark.parametrize(
    ("config", "header"),
    [
        ({}, BASIC_HEADER),
        ({"personal_access_token": TOKEN}, f"ApiToken {TOKEN}"),
    ],
    ids=["basic", "personal-access-token"],
)
def test_auth_header(
    config: dict[str, Any], header: str, dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/api/me", json={"id": "M5zQapPyTZI", "username": "admin"})

    assert dhis2(None, **config).get("me")["username"] == "admin"
    [call] = sent(rsps)
    assert call.headers["Authorization"] == header


@pytest.mark.parametrize(
    ("api_version", "path"),
    [(None, "/dhis/api/dataElements/fbfJHSPpUQD"), (37, "/dhis/api/37/dataElements/fbfJHSPpUQD")],
    ids=["default", "pinned-37"],
)
def test_api_version_pin_goes_into_paths(
    api_version: int | None, path: str, dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}{path.removeprefix('/dhis')}", json={"id": "fbfJHSPpUQD"})

    dhis2(None, api_version=api_version).get("dataElements/fbfJHSPpUQD")
    assert sent(rsps)[0].path == path


@pytest.mark.parametrize(
    "config",
    [
        {"base_url": BASE},
        {"base_url": BASE, "username": "admin", "password": PASSWORD, "personal_access_token": TOKEN},
        {"base_url": BASE, "username": "admin"},
        {"base_url": BASE, "password": PASSWORD},
        {"base_url": "dhis.example.org", "personal_access_token": TOKEN},
        {"base_url": BASE, "personal_access_token": TOKEN, "api_version": 12},
        {"base_url": BASE, "personal_access_token": TOKEN, "secret": "x"},
    ],
    ids=["no-credentials", "both", "no-password", "no-username", "no-scheme", "api-version", "unknown-key"],
)
def test_invalid_config_refused(config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Dhis2Config(**config)


def test_config_normalises_base_url_and_hides_secrets() -> None:
    config = Dhis2Config(base_url=f"{BASE}/api/", username="admin", password=PASSWORD)
    token_config = Dhis2Config(base_url=BASE, personal_access_token=TOKEN)

    assert config.base_url == BASE
    assert PASSWORD not in repr(config) and PASSWORD not in str(config.model_dump())
    assert TOKEN not in repr(token_config) and TOKEN not in repr(token_config.auth())
    assert PASSWORD not in repr(Dhis2Client(config))
