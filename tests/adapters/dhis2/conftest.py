"""A DHIS2 client over a mocked transport (``responses``), for any release."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from adapters.dhis2 import Dhis2Client, Dhis2Config
from tests.adapters.dhis2.wire import BASE, system_info
from tests.adapters.sent import Sent

PASSWORD = "district-Secret-42"
TOKEN = "d2pat_5xVA12xyUbWNedQxy4ohH77WlxRGVvZZ1151814092"
BASIC_HEADER = "Basic YWRtaW46ZGlzdHJpY3QtU2VjcmV0LTQy"  # admin:district-Secret-42


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def dhis2(rsps: responses.RequestsMock, sleeps: list[float]) -> Callable[..., Dhis2Client]:
    """``dhis2(version, **config)``: a client whose server reports ``version`` (``None``: no
    system/info call expected), logged in as admin with Basic auth unless config says otherwise."""

    def make(version: str | None = "2.41.1", **config: Any) -> Dhis2Client:
        if version is not None:
            rsps.get(f"{BASE}/api/system/info", json=system_info(version))
        if "personal_access_token" not in config:
            config = {"username": "admin", "password": PASSWORD, **config}
        return Dhis2Client(Dhis2Config(base_url=BASE, poll_interval=0.25, **config), sleep=sleeps.append)

    return make


@pytest.fixture
def dhis2_data(shared_data: Path) -> Path:
    return shared_data / "dhis2"


def sent(rsps: responses.RequestsMock, path_part: str = "") -> list[Sent]:
    """The requests received so far whose path contains ``path_part``."""
    seen = [Sent.of(call.request) for call in rsps.calls]
    return [s for s in seen if path_part in s.path]
