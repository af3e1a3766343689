"""The configured database for CLI commands: disposed afterwards, HubErrors turned into a clean exit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from hub.db.session import Database
from hub.errors import HubError
from hub.settings import get_settings


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
