"""``hub dhis2 metadata import|stats`` with CliRunner."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hub.dhis2.cli import dhis2
from hub.settings import get_settings


@pytest.fixture
def invoke(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(dhis2, list(args))
    get_settings.cache_clear()


def _rows(output: str) -> dict[str, list[str]]:
    """The rows of a rich table, keyed by their first cell."""
    cells = [
        [c.strip() for c in line.split("│")[1:-1]] for line in output.splitlines() if line.startswith("│")
    ]
    return {row[0]: row[1:] for row in cells}


def test_import_shows_progress_and_counts_then_stats(
    invoke: Callable[..., Result], exports: list[Path]
) -> None:
    result = invoke("metadata", "import", str(exports[1]))

    assert result.exit_code == 0, result.output
    assert "importing" in result.output
    assert _rows(result.output)["DataElement"] == ["75", "0", "0", "0"]
    assert "status OK (COMMIT)" in result.output
    assert "indicators (19)" in result.output

    stats = invoke("metadata", "stats")
    assert stats.exit_code == 0
    assert _rows(stats.output)["dataElements"] == ["75"]


def test_validate_keeps_nothing(invoke: Callable[..., Result], exports: list[Path]) -> None:
    result = invoke("metadata", "import", "--validate", str(exports[0]))
    assert "status OK (VALIDATE)" in result.output
    assert _rows(result.output)["OrganisationUnit"] == ["5", "0", "0", "0"]
    assert _rows(invoke("metadata", "stats").output)["organisationUnits"] == ["0"]


def test_errors_fail_the_command_and_are_listed(invoke: Callable[..., Result], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dataElements": [{"id": "deBad000001", "name": "No type"}]}))
    result = invoke("metadata", "import", str(bad))
    assert result.exit_code == 1
    assert "E4000" in result.output and "valueType" in result.output

    broken = tmp_path / "broken.json"
    broken.write_text('{"dataElements": [{"id": ')
    result = invoke("metadata", "import", str(broken))
    assert result.exit_code == 1
    assert "not valid JSON" in result.output


def test_identifier_code_matches_by_code(invoke: Callable[..., Result], tmp_path: Path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps({"categoryCombos": [{"code": "CC_AGE", "name": "Age"}]}))
    second.write_text(json.dumps({"categoryCombos": [{"code": "CC_AGE", "name": "Age groups"}]}))

    created = invoke("metadata", "import", "--identifier", "CODE", str(first))
    updated = invoke("metadata", "import", "--identifier", "CODE", str(second))

    assert created.exit_code == 0, created.output
    assert _rows(created.output)["CategoryCombo"] == ["1", "0", "0", "0"]
    assert _rows(updated.output)["CategoryCombo"] == ["0", "1", "0", "0"]
    assert _rows(invoke("metadata", "stats").output)["categoryCombos"] == ["1"]
