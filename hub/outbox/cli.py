"""``hub worker`` and ``hub outbox``: run a standalone worker, inspect and retry deliveries.

    hub worker                              deliver until SIGTERM / Ctrl-C
    hub worker --once                       deliver everything due now, then exit
    hub outbox list --status dead
    hub outbox retry 41 42                  or  --status dead --route dhis2

``python -m hub.outbox.cli worker`` runs a worker without the rest of the hub's CLI.
"""

from __future__ import annotations

import signal

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from hub import logs
from hub.cli_db import ROW_ID, HubGroup, configured_database, json_option, print_json
from hub.db import migrate
from hub.errors import HubError
from hub.outbox import service
from hub.outbox.models import DeliveryStatus
from hub.outbox.service import RETRYABLE
from hub.outbox.worker import DEFAULT_CONCURRENCY, Worker
from hub.settings import ConfigError, get_settings

console = Console()


@click.command()
@click.option("--once", is_flag=True, help="deliver everything due now, then exit")
@click.option("--concurrency", default=DEFAULT_CONCURRENCY, show_default=True, help="parallel sends")
def worker(once: bool, concurrency: int) -> None:
    """Run a standalone outbox worker until SIGTERM or SIGINT.

    Any number of workers may run against one database; on PostgreSQL they may run on
    any number of machines. On a signal the worker hands back deliveries it has not
    started and waits for those on the wire.
    """
    settings = get_settings()
    with configured_database() as db:
        problem = migrate.pending_message(db.engine)
        if problem:
            raise click.ClickException(problem)
        runner = Worker(db, settings, concurrency=concurrency)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: runner.stop())
        try:
            runner.run(drain=once)
        finally:
            runner.close()


@click.group()
def outbox() -> None:
    """Deliveries the hub owes upstreams."""


@outbox.command("list")
@click.option("--status", type=click.Choice([s.value for s in DeliveryStatus]), default=None)
@click.option("--route", default=None, help="route name")
@click.option("--transaction", "transaction_id", type=ROW_ID, default=None)
@click.option("--before-id", type=ROW_ID, default=None, help="show deliveries older than this id")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@json_option
def outbox_list(
    status: str | None,
    route: str | None,
    transaction_id: int | None,
    before_id: int | None,
    limit: int,
    as_json: bool,
) -> None:
    """List deliveries, newest first."""
    from hub.outbox.schemas import DeliverySummary

    filters = service.Filters(
        status=DeliveryStatus(status) if status else None, transaction_id=transaction_id, route=route
    )
    table = Table(
        "id", "created", "status", "route", "method", "url", "tx", "attempts", "HTTP", "next", "error"
    )
    with configured_database() as db, db.session() as session:
        page = DeliverySummary.page(
            session, service.list_page(session, filters=filters, before_id=before_id, limit=limit)
        )
        if as_json:
            print_json([d.model_dump(mode="json") for d in page])
            return
        for d in page:
            table.add_row(
                str(d.id),
                d.created_at.isoformat(timespec="seconds"),
                d.status,
                d.route_name,
                d.method,
                d.url,
                str(d.transaction_id or ""),
                f"{d.attempts}/{d.max_attempts}",
                str(d.last_status or ""),
                d.next_attempt_at.isoformat(timespec="seconds") if d.status == DeliveryStatus.PENDING else "",
                d.last_error or "",
            )
    console.print(table)


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=ROW_ID)
@click.option("--status", type=click.Choice([s.value for s in RETRYABLE]), default=None, help="default: both")
@click.option("--route", default=None, help="route name")
@click.option("--transaction", "transaction_id", type=ROW_ID, default=None)
def outbox_retry(
    ids: tuple[int, ...], status: str | None, route: str | None, transaction_id: int | None
) -> None:
    """Send failed or dead deliveries again: by id, or every one matching the filters (a batch at a time,
    each committed, with a progress bar; if it stops, run it again for the rest). Those whose body
    retention has dropped are left as they are."""
    if not ids and not (status or route or transaction_id):
        raise click.UsageError("give delivery ids, or --status/--route/--transaction")
    refused: list[str] = []
    with configured_database() as db, db.session() as session:
        if ids:
            for delivery_id in ids:
                try:
                    service.retry(session, delivery_id=delivery_id)
                except HubError as exc:
                    refused.append(exc.detail)
            retried = len(ids) - len(refused)
        else:
            filters = service.Filters(
                status=DeliveryStatus(status) if status else None, transaction_id=transaction_id, route=route
            )
            with Progress(console=console) as progress:
                bar = progress.add_task(
                    "queueing again", total=service.count_retryable(session, filters=filters)
                )
                retried = 0
                for matched, reset in service.retry_matching(session, filters=filters):
                    retried += len(reset)
                    progress.advance(bar, matched)
    console.print(f"{retried} deliveries queued again")
    for reason in refused:
        console.print(f"  refused: {reason}")
    if refused:
        raise SystemExit(1)


@click.group(cls=HubGroup, commands=[worker, outbox])
def _standalone() -> None:
    try:
        logs.configure(get_settings().log_format, get_settings().log_level)
    except ConfigError:
        logs.configure()  # the command says what is wrong, in one line


if __name__ == "__main__":
    _standalone()
