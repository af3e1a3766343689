"""``hub dhis2 ...``: the DHIS2 metadata cache from the command line.

hub dhis2 metadata import metadata.json               upsert an export, with a progress bar
hub dhis2 metadata import metadata.json --validate    report what would change, keep nothing
hub dhis2 metadata import metadata.json --identifier CODE   match objects and references by code
hub dhis2 metadata stats                              objects per type in the cache
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import func, select

from hub.cli_db import session_scope
from hub.dhis2.metadata.identifiers import Identifier
from hub.dhis2.metadata.importer import ImportStrategy, import_metadata
from hub.dhis2.metadata.report import ImportReport
from hub.dhis2.metadata.schema import OBJECT_TYPES
from hub.dhis2.metadata.stream import ExportError, read_export

console = Console()


@click.group()
def dhis2() -> None:
    """DHIS2: the metadata cache."""


@dhis2.group()
def metadata() -> None:
    """The DHIS2 metadata cache (org units, data elements, data sets, combos, option sets)."""


def _print_report(report: ImportReport) -> None:
    table = Table("type", "created", "updated", "deleted", "ignored")
    for name, stats in report.counts().items():
        table.add_row(name, *(str(stats[k]) for k in ("created", "updated", "deleted", "ignored")))
    console.print(table)
    for type_report in report.type_reports.values():
        for object_report in type_report.object_reports:
            for error in object_report.error_reports:
                console.print(
                    f"  [red]{error.error_code}[/] #{object_report.index} {object_report.uid}: "
                    f"{error.message}"
                )
    if report.skipped:
        console.print("not cached: " + ", ".join(f"{k} ({n})" for k, n in sorted(report.skipped.items())))
    console.print(f"status {report.status} ({report.import_mode})")


@metadata.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--strategy",
    type=click.Choice([s.value for s in ImportStrategy]),
    default=ImportStrategy.CREATE_AND_UPDATE.value,
    show_default=True,
)
@click.option(
    "--atomic/--no-atomic", default=True, show_default=True, help="one error undoes the whole import"
)
@click.option("--validate", is_flag=True, help="check and report only; keep nothing")
@click.option(
    "--identifier",
    type=click.Choice([i.value for i in Identifier]),
    default=Identifier.UID.value,
    show_default=True,
    help="match objects and references by UID, by CODE, or AUTO (UID, else code)",
)
def import_file(file: Path, strategy: str, atomic: bool, validate: bool, identifier: str) -> None:
    """Import a DHIS2 metadata export (JSON) into the cache, streaming it (read whole with CODE/AUTO)."""
    columns = (TextColumn("importing"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    try:
        with (
            file.open("rb") as fh,
            Progress(*columns, console=console) as progress,
            session_scope() as session,
        ):
            task = progress.add_task("import", total=file.stat().st_size)
            report = import_metadata(
                session,
                source=read_export(fh),
                import_strategy=ImportStrategy(strategy),
                atomic=atomic,
                dry_run=validate,
                identifier=Identifier(identifier),
                progress=lambda _count: progress.update(task, completed=fh.tell()),
            )
            progress.update(task, completed=file.stat().st_size)
    except ExportError as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    _print_report(report)
    if report.status == "ERROR":
        raise click.exceptions.Exit(1)


@metadata.command("stats")
def stats() -> None:
    """How many objects of each type the cache holds."""
    table = Table("type", "objects")
    with session_scope() as session:
        for object_type in OBJECT_TYPES:
            count = session.scalar(select(func.count()).select_from(object_type.model))
            table.add_row(object_type.key, str(count))
    console.print(table)
