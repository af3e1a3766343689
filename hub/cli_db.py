"""The configured database for CLI commands: disposed afterwards, HubErrors turned into a clean exit;
and the ``--json`` output the list commands share.

:class:`HubGroup` is the ``hub`` command's group: whatever a command raises because the settings are
wrong or the database is unreachable or behind the code ends the command with one line naming the
fix, never a traceback (whose SQL error text would hold the statement's values).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
import orjson
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from hub.api.fields import MAX_ROW_ID
from hub.db.session import Database
from hub.errors import HubError
from hub.settings import ConfigError, get_settings

# A row id as the admin API takes one: a number the database cannot hold is a usage error, not a
# traceback from the driver.
ROW_ID = click.IntRange(1, MAX_ROW_ID)

json_option = click.option("--json", "as_json", is_flag=True, help="print one JSON array instead of a table")


def print_json(value: Any) -> None:
    """``value`` (the admin API's shapes, dumped) as indented JSON, for scripts."""
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


@contextmanager
def configured_database() -> Iterator[Database]:
    """The database ``HUB_DATABASE_URL`` names, for the length of one command."""
    db = Database(get_settings().database_url)
    try:
        yield db
    except HubError as exc:
        raise click.ClickException(exc.detail) from exc
    finally:
        db.dispose()


@contextmanager
def session_scope() -> Iterator[Session]:
    """One DB transaction for a CLI command, committed when it succeeds."""
    with configured_database() as db, db.session() as session:
        yield session


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def database_problem(exc: SQLAlchemyError) -> str:
    """What an operator should know about a database error, in one line and without its values.

    A failed statement is most often a schema behind the code (``no such table``): that is checked
    first, on a fresh connection, so the message names ``hub db upgrade``.
    """
    from hub.db import migrate

    url = get_settings().database_url
    db = Database(url)
    try:
        pending = migrate.pending_message(db.engine)
    except SQLAlchemyError as again:
        where = db.engine.url.render_as_string(hide_password=True)
        return f"database unreachable ({where}): {_first_line(again)}"
    finally:
        db.dispose()
    if pending:
        return pending
    return f"database error: {type(exc).__name__}: {_first_line(exc)}"


class HubGroup(click.Group):
    """A command group whose commands end in one line on bad settings or an unusable database."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        except DBAPIError as exc:
            raise click.ClickException(database_problem(exc)) from None


def usage_error(exc: ValidationError, option: Callable[[str], str]) -> click.UsageError:
    """A model's complaints about a command's input, each naming the option (``option``: by the
    model's field) it came from."""
    return click.UsageError("; ".join(f"{option(str(e['loc'][0]))}: {e['msg']}" for e in exc.errors()))
