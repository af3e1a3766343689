"""Version parsing and detection from /api/system/info."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import responses

from adapters.dhis2 import Dhis2Client, Dhis2Version
from tests.adapters.dhis2.conftest import sent
from tests.adapters.dhis2.wire import VERSIONS


@pytest.mark.parametrize(
    ("text", "numbers", "label"),
    [
        ("2.29", (2, 29, 0, 0), ""),
        ("2.36.13.2", (2, 36, 13, 2), ""),
        ("2.40.4.1", (2, 40, 4, 1), ""),
        ("2.41.1", (2, 41, 1, 0), ""),
        ("2.42-SNAPSHOT", (2, 42, 0, 0), "SNAPSHOT"),
        ("2.39.0-rc1", (2, 39, 0, 0), "rc1"),
        ("2.37.10-EMBARGOED", (2, 37, 10, 0), "EMBARGOED"),
    ],
    ids=["two-parts", "hotfix", "four-parts", "patch", "snapshot", "rc", "embargoed"],
)
def test_parse(text: str, numbers: tuple[int, int, int, int], label: str) -> None:
    version = Dhis2Version.parse(text)
    assert version.key == numbers
    assert version.label == label


@pytest.mark.parametrize(
    "text", ["", "latest", "2", "two.forty"], ids=["empty", "word", "major-only", "words"]
)
def test_parse_refuses_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="not a DHIS2 version"):
        Dhis2Version.parse(text)


def test_comparisons_with_versions_strings_and_tuples() -> None:
    v = Dhis2Version.parse("2.40.4.1")
    assert v >= "2.38" and v > "2.40.4" and v < "2.41" and v <= (2, 40, 4, 1)
    assert v == Dhis2Version(2, 40, 4, 1) and v == "2.40.4.1" and v != "2.40"
    assert Dhis2Version.parse("2.42-SNAPSHOT") == "2.42.0"
    assert sorted([Dhis2Version.parse(s) for s in reversed(VERSIONS)]) == [
        Dhis2Version.parse(s) for s in VERSIONS
    ]
    assert hash(Dhis2Version.parse("2.41.1")) == hash(Dhis2Version(2, 41, 1))
    assert str(v) == "2.40.4.1" and str(Dhis2Version.parse("2.42-SNAPSHOT")) == "2.42.0-SNAPSHOT"


@pytest.mark.parametrize("version", VERSIONS, ids=VERSIONS)
def test_version_detected_once_from_system_info(
    version: str, dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    client = dhis2(version)

    assert client.version == version
    assert client.version.minor == int(version.split(".")[1])
    assert client.system_info["systemName"] == "DHIS 2 Demo - Sierra Leone"
    [call] = sent(rsps)
    assert (call.method, call.path) == ("GET", "/dhis/api/system/info")
    assert call.headers["Accept"] == "application/json"


def test_system_info_stays_unversioned_when_the_api_version_is_pinned(
    dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    assert dhis2("2.40.3", api_version=37).version == "2.40.3"
    assert sent(rsps)[0].path == "/dhis/api/system/info"
