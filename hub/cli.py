"""The ``hub`` command: serve, worker, database, clients, channels, transactions, rerun tasks, outbox.

hub db upgrade                    apply migrations
hub serve                         run the hub (and an embedded outbox worker)
hub worker                        run a standalone outbox worker
hub client add partner-1 --role partner --password-env P1_PASSWORD
hub transactions list --status Failed
hub transactions rerun 42 43      or  --status Failed --channel dhis2
hub tasks add 42 43               or  --status Failed --since 2024-05-01T00:00Z (run by `hub serve`)

The list commands take ``--json`` (one JSON array, the admin API's shapes) for scripts.
"""

from __future__ import annotations

import asyncio
import os

import click
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from hub import logs
from hub.auth.schemas import UserOut
from hub.auth.service import create_user, get_user, issue_token, list_users, update_user
from hub.channels import service as channel_service
from hub.cli_db import (
    ROW_ID,
    HubGroup,
    configured_database,
    json_option,
    print_json,
    session_scope,
    usage_error,
)
from hub.clients import service as client_service
from hub.clients.schemas import ClientIn
from hub.db import migrate
from hub.dhis2.cli import dhis2
from hub.errors import HubError
from hub.outbox.cli import outbox, worker
from hub.pipelines.cli import run
from hub.settings import ConfigError, Settings, get_settings
from hub.tasks.cli import tasks
from hub.transactions import retention
from hub.transactions import service as transactions
from terminology.cli import terminology

console = Console()


@click.group(cls=HubGroup)
def main() -> None:
    """Health interoperability hub."""
    try:
        settings = get_settings()
    except ConfigError:
        # Said in one line by the command that needs the settings; `--help` still works.
        logs.configure()
        return
    logs.configure(settings.log_format, settings.log_level)


main.add_command(worker)
main.add_command(outbox)
main.add_command(dhis2)
main.add_command(run)
main.add_command(terminology)
main.add_command(tasks)


# -- serve and database ------------------------------------------------------------------------------


@main.command()
@click.option("--host", default=None, help="bind address (default HUB_HOST)")
@click.option("--port", type=int, default=None, help="port (default HUB_PORT)")
def serve(host: str | None, port: int | None) -> None:
    """Run the hub: admin API, mediator API and every channel."""
    import uvicorn

    from hub import config_file
    from hub.api.app import create_app
    from hub.runtime import settle_heap
    from hub.tls import server_options

    # The app's start-up refuses an un-migrated schema or a wrong config file too, and uvicorn
    # loads the TLS files as it starts, but both would report a problem as a traceback: say it
    # here, in one line.
    with configured_database() as database:
        problem = migrate.pending_message(database.engine)
    if problem:
        raise click.ClickException(problem)
    settings = get_settings()
    if settings.config:
        config_file.read(settings.config)
    tls = server_options(settings)
    app = create_app(settings)
    settle_heap()
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        access_log=False,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        **tls,
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    url = get_settings().database_url
    migrate.upgrade(url)
    console.print(f"database at revision {', '.join(sorted(migrate.head_revisions()))}")


@db.command("current")
@click.option("--check", is_flag=True, help="exit 1 when migrations are pending (scripts, init containers)")
def db_current(check: bool) -> None:
    """Show the schema revision and whether it is current."""
    with configured_database() as database:
        message = migrate.pending_message(database.engine)
    click.echo(message or f"up to date at {', '.join(sorted(migrate.head_revisions()))}")
    if message and check:
        raise SystemExit(1)


# -- users, clients, channels ------------------------------------------------------------------------


@main.group()
def user() -> None:
    """Admin-API users."""


@user.command("add")
@click.argument("email")
@click.option("--password-env", required=True, help="environment variable holding the password")
@click.option("--group", "groups", multiple=True, default=["admin"], show_default=True)
@click.option("--legacy-token-auth", is_flag=True, help="also allow OpenHIM's legacy token auth")
def user_add(email: str, password_env: str, groups: tuple[str, ...], legacy_token_auth: bool) -> None:
    """Add an admin-API user."""
    password = _secret(password_env)
    with session_scope() as session:
        create_user(
            session, email=email, password=password, groups=list(groups), legacy_token_auth=legacy_token_auth
        )
    console.print(f"user {email} added")


@user.command("list")
@json_option
def user_list(as_json: bool) -> None:
    """List admin-API users."""
    with session_scope() as session:
        users = [UserOut.model_validate(u) for u in list_users(session)]
    if as_json:
        print_json([u.model_dump(mode="json") for u in users])
        return
    table = Table("email", "groups", "legacy token auth", "created")
    for u in users:
        table.add_row(
            u.email, ", ".join(u.groups), "yes" if u.legacy_token_auth else "no", f"{u.created_at:%Y-%m-%d}"
        )
    console.print(table)


@user.command("set")
@click.argument("email")
@click.option("--password-env", default=None, help="environment variable holding a new password")
@click.option("--group", "groups", multiple=True, help="replace the user's groups (repeat for several)")
@click.option(
    "--legacy-token-auth/--no-legacy-token-auth",
    default=None,
    help="keep (needs --password-env) or drop OpenHIM's sha512 passhash",
)
def user_set(
    email: str, password_env: str | None, groups: tuple[str, ...], legacy_token_auth: bool | None
) -> None:
    """Change an admin-API user's password, groups or legacy token auth."""
    password = _secret(password_env) if password_env else None
    with session_scope() as session:
        update_user(
            session,
            get_user(session, email),
            password=password,
            groups=list(groups) or None,
            legacy_token_auth=legacy_token_auth,
        )
    console.print(f"user {email} changed")


@user.command("remove")
@click.argument("email")
def user_remove(email: str) -> None:
    """Remove an admin-API user and its tokens: the user with exactly this e-mail, else the one
    with it in another case."""
    with session_scope() as session:
        found = get_user(session, email)
        removed = found.email
        session.delete(found)
    console.print(f"user {removed} removed")


@main.group()
def client() -> None:
    """Clients (systems that call channels)."""


# ClientIn's fields as ``hub client add`` takes them
CLIENT_OPTIONS = {
    "client_id": "CLIENT_ID",
    "name": "--name",
    "roles": "--role",
    "password": "--password-env",
    "cert_fingerprint": "--cert-fingerprint",
    "org_units": "--org-unit",
}


@client.command("add")
@click.argument("client_id")
@click.option("--name", default=None)
@click.option("--role", "roles", multiple=True, required=True)
@click.option("--password-env", default=None, help="environment variable holding the password")
@click.option("--cert-fingerprint", default=None, help="SHA-256 of the client's TLS certificate")
@click.option("--org-unit", "org_units", multiple=True, help="DHIS2 org unit subtree it may report for")
@click.option("--token", "token_name", default=None, help="also issue an API token named so (printed once)")
def client_add(
    client_id: str,
    name: str | None,
    roles: tuple[str, ...],
    password_env: str | None,
    cert_fingerprint: str | None,
    org_units: tuple[str, ...],
    token_name: str | None,
) -> None:
    """Add a client; with --token, print its first API token (the only time it is shown)."""
    try:
        client_in = ClientIn(
            client_id=client_id,
            name=name or client_id,
            roles=list(roles),
            password=_secret(password_env) if password_env else None,
            cert_fingerprint=cert_fingerprint,
            org_units=list(org_units),
        )
    except ValidationError as exc:
        raise usage_error(exc, CLIENT_OPTIONS.__getitem__) from None
    with session_scope() as session:
        made = client_service.create(session, client_in=client_in)
        token = issue_token(session, name=token_name, client=made)[0] if token_name else None
    console.print(f"client {client_id} added")
    if token is not None:
        click.echo(token)


@client.command("list")
@json_option
def client_list(as_json: bool) -> None:
    """List clients."""
    from hub.clients.schemas import ClientOut

    table = Table("clientID", "name", "roles", "password", "certificate", "enabled")
    with session_scope() as session:
        clients = client_service.list_clients(session)
        if as_json:
            print_json(
                [
                    ClientOut.model_validate(
                        {
                            **{f: getattr(c, f) for f in ClientOut.model_fields if f != "has_password"},
                            "has_password": bool(c.password_hash),
                        }
                    ).model_dump(mode="json")
                    for c in clients
                ]
            )
            return
        for c in clients:
            table.add_row(
                c.client_id,
                c.name,
                ", ".join(c.roles),
                "yes" if c.password_hash else "no",
                (c.cert_fingerprint or "")[:16],
                "yes" if c.enabled else "no",
            )
    console.print(table)


@client.command("token")
@click.argument("client_id")
@click.option("--name", required=True)
def client_token(client_id: str, name: str) -> None:
    """Issue an API token for a client (printed once)."""
    with session_scope() as session:
        plaintext, _ = issue_token(session, name=name, client=client_service.get(session, client_id))
    click.echo(plaintext)


@main.group()
def channel() -> None:
    """Channels."""


@channel.command("list")
@json_option
def channel_list(as_json: bool) -> None:
    """List channels, highest priority first."""
    table = Table("name", "pattern", "methods", "roles", "primary route", "enabled", "source")
    with session_scope() as session:
        channels = channel_service.list_channels(session)
        if as_json:
            print_json([channel_service.to_out(c).model_dump(mode="json") for c in channels])
            return
        for c in channels:
            primary = next((r for r in c.routes if r.get("primary")), {})
            table.add_row(
                c.name,
                c.url_pattern,
                ",".join(c.methods),
                ",".join(c.allowed_roles),
                str(primary.get("url", "")),
                "yes" if c.enabled else "no",
                c.source,
            )
    console.print(table)


# -- transactions ------------------------------------------------------------------------------------


@main.group("transactions")
def transactions_group() -> None:
    """The transaction log."""


def _filters(status: str | None, channel: str | None, client_id: str | None) -> transactions.Filters:
    return transactions.Filters(status=status, channel=channel, client_id=client_id)


@transactions_group.command("list")
@click.option("--status", default=None)
@click.option("--channel", default=None)
@click.option("--client", "client_id", default=None)
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@json_option
def transactions_list(
    status: str | None, channel: str | None, client_id: str | None, limit: int, as_json: bool
) -> None:
    """List transactions, newest first."""
    from hub.transactions.schemas import TransactionSummary

    table = Table("id", "started", "status", "channel", "client", "method", "path", "HTTP", "ms")
    with session_scope() as session:
        page = transactions.list_page(session, filters=_filters(status, channel, client_id), limit=limit)
        if as_json:
            print_json([TransactionSummary.model_validate(tx).model_dump(mode="json") for tx in page])
            return
        for tx in page:
            table.add_row(
                str(tx.id),
                tx.started_at.isoformat(timespec="seconds"),
                tx.status,
                tx.channel_name or "",
                tx.client_id or "",
                tx.method,
                tx.path,
                str(tx.response_status or ""),
                f"{tx.duration_ms:.1f}" if tx.duration_ms else "",
            )
    console.print(table)


@transactions_group.command("show")
@click.argument("transaction_id", type=ROW_ID)
def transactions_show(transaction_id: int) -> None:
    """Show one transaction as JSON."""
    from hub.transactions.schemas import TransactionDetail

    with session_scope() as session:
        detail = TransactionDetail.model_validate(transactions.get(session, transaction_id))
    print_json(detail.model_dump(mode="json"))


@transactions_group.command("rerun")
@click.argument("ids", nargs=-1, type=ROW_ID)
@click.option("--status", default=None, help="rerun every transaction with this status")
@click.option("--channel", default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=1000, show_default=True)
def transactions_rerun(ids: tuple[int, ...], status: str | None, channel: str | None, limit: int) -> None:
    """Rerun transactions by id or by filter, with a progress bar; exits 1 if any was refused."""
    if not ids and not (status or channel):
        raise click.UsageError("give transaction ids, or --status/--channel")
    settings = get_settings()
    if not ids:
        with session_scope() as session:
            ids = tuple(
                transactions.ids_matching(session, filters=_filters(status, channel, None), limit=limit)
            )
    failures = asyncio.run(_rerun_all(settings, list(ids)))
    console.print(f"{len(ids) - len(failures)} rerun, {len(failures)} refused")
    for transaction_id, reason in failures:
        console.print(f"  {transaction_id}: {reason}")
    if failures:
        raise SystemExit(1)


async def _rerun_all(settings: Settings, ids: list[int]) -> list[tuple[int, str]]:
    from hub.gateway.rerun import rerun
    from hub.instances import heartbeat
    from hub.runtime import Runtime

    # the reruns in flight belong to this command's own instance, which beats while it works
    runtime = Runtime.create(heartbeat.for_command(settings))
    runtime.reload_channels(force=True)
    failures: list[tuple[int, str]] = []
    try:
        async with heartbeat.beating(runtime):
            with Progress(console=console) as progress:
                task = progress.add_task("rerunning", total=len(ids))
                for transaction_id in ids:
                    try:
                        await rerun(runtime, transaction_id)
                    except HubError as exc:
                        failures.append((transaction_id, exc.detail))
                    except Exception as exc:  # the rest are still tried; its text may hold the SQL's values
                        failures.append((transaction_id, f"unexpected {type(exc).__name__}"))
                    progress.advance(task)
    finally:
        await runtime.aclose()
    return failures


@transactions_group.command("retain")
def transactions_retain() -> None:
    """Apply retention now: cull old bodies, purge old rows (transactions, settled deliveries and
    finished rerun tasks)."""
    with session_scope() as session:
        retained = retention.apply(session, get_settings())
    console.print(
        f"{retained.bodies_culled} bodies culled, {retained.transactions_purged} transactions purged; "
        f"{retained.delivery_bodies_culled} delivery bodies culled, "
        f"{retained.deliveries_purged} deliveries purged; {retained.tasks_purged} rerun tasks purged"
    )


def _secret(env_name: str) -> str:
    value = os.environ.get(env_name)
    if not value:
        raise click.ClickException(f"environment variable {env_name} is not set")
    return value


if __name__ == "__main__":
    main()
