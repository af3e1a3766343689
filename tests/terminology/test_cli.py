"""``hub terminology …`` against a real database."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner
from sqlalchemy import delete

from hub.db.session import Database
from hub.settings import get_settings
from terminology import icd10
from terminology.cli import terminology
from terminology.models import CodeSystem

LOCAL = "http://moh.example.org/fhir/CodeSystem/opd-diagnoses"


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    get_settings.cache_clear()

    def invoke(*args: str, exit_code: int = 0) -> str:
        result = CliRunner().invoke(terminology, list(args), catch_exceptions=False)
        assert result.exit_code == exit_code, result.output
        return result.output

    yield invoke
    get_settings.cache_clear()


def test_load_icd10(run: Callable[..., str], db: Database) -> None:
    assert "already loaded" in run("load-icd10", "--if-missing")
    with db.session() as session:
        session.execute(delete(CodeSystem).where(CodeSystem.url == icd10.URL))
    assert "loaded 12542 ICD-10 codes as CodeSystem/icd-10" in run("load-icd10", "--if-missing")
    assert "J18.9" in run("search", "pnuemonia unspecified", "--count", "3")


def test_search(run: Callable[..., str]) -> None:
    output = run("search", "lung tuberculosis", "--count", "3")
    assert output.count("Tuberculosis of lung") == 3
    assert "not known to this server" in run("search", "x", "--system", "http://x.example/cs", exit_code=1)


def test_mapping_sheet_workflow(run: Callable[..., str], tmp_path: Path, shared_data: Path) -> None:
    sheet = tmp_path / "opd.csv"
    sheet.write_text(
        "Local code,Local name,ICD-10 code\nOPD-01,Pneumonia,J18.9\nOPD-02,Fever,\nOPD-03,Bite,T63.00\n"
    )
    output = run(
        "import-conceptmap",
        str(sheet),
        "--source-system",
        LOCAL,
        "--target-system",
        icd10.URL,
        "--version",
        "1",
    )
    assert "3 rows, 3 source codes: 2 mapped, 1 unmapped" in output
    assert "unmapped: OPD-02" in output and "unknown target: OPD-03 → T63.00" in output
    url = "http://hub.terminology.local/fhir/ConceptMap/opd"
    assert "J18.9" in run("translate", "OPD-01", "--system", LOCAL)
    assert "has no mapping" in run("translate", "OPD-09", "--system", LOCAL, exit_code=1)
    assert "unmapped: OPD-02" in run("conceptmap-report", url)
    out = tmp_path / "back.json"
    run("export-conceptmap", url, "--out", str(out))
    assert json.loads(out.read_text())["group"][0]["element"][0]["code"] == "OPD-01"
    run("import-codesystem", str(shared_data / "ihris" / "CodeSystem-ihris-job.json"))
    listing = run("list")
    assert "ihris-job" in listing and "opd" in listing and "icd-10-codes" in listing


def test_export_option_set(run: Callable[..., str], tmp_path: Path) -> None:
    out = tmp_path / "options.json"
    assert "wrote 12246 options" in run("export-option-set", "--out", str(out))
    assert json.loads(out.read_text())["optionSets"][0]["code"] == "ICD10CODES"


def test_the_demo_data(run: Callable[..., str]) -> None:
    output = run("load-demo")
    assert "15 rows, 14 source codes: 13 mapped, 1 unmapped, 1 ambiguous" in output
    assert "unmapped: OPD-12" in output and "ambiguous: OPD-02 → A09.0, A00.9" in output
    assert "not in the map: OPD-15" in output and "unknown target" not in output
    assert "OPD-05" in run("translate", "B50.9", "--system", icd10.URL, "--reverse")
    assert "15 rows" in run("load-demo")  # loading again replaces, it does not add


@responses.activate
def test_push_option_set(run: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    dhis2 = "http://dhis2.test"
    responses.get(re.compile(f"{dhis2}/api/optionSets/.*"), status=404)
    posted = responses.post(f"{dhis2}/api/metadata", json={"status": "OK", "stats": {"created": 7}})
    args = (
        "push-option-set",
        f"{icd10.URL}?fhir_vs=isa/J18",
        "--dhis2-url",
        dhis2,
        "--username",
        "admin",
        "--secret-env",
        "TX_DHIS2_SECRET",
    )
    assert "TX_DHIS2_SECRET is not set" in run(*args, exit_code=1)
    monkeypatch.setenv("TX_DHIS2_SECRET", "district")
    assert "6 added, 0 changed, 0 removed; DHIS2 says OK" in run(*args)
    assert [o["code"] for o in json.loads(posted.calls[0].request.body)["options"]][:2] == ["J18", "J18.0"]
