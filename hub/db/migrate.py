"""Alembic driven from code: ``hub db upgrade`` and the start-up check.

Each capability (core, DHIS2, terminology, ...) may grow its own branch of the
history from ``0001``; upgrading goes to every head, and the hub is current only
when the database is at all of them.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Apply migrations up to ``revision`` (every branch's head by default)."""
    command.upgrade(alembic_config(url), revision)


def head_revisions() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def current_revisions(engine: Engine) -> frozenset[str]:
    with engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads())


def _show(revisions: frozenset[str]) -> str:
    return ", ".join(sorted(revisions)) or "none (empty database)"


def pending_message(engine: Engine) -> str | None:
    """None when the schema is at every head, else what the operator must do."""
    current, heads = current_revisions(engine), head_revisions()
    if current == heads:
        return None
    return (
        f"database schema is at revision {_show(current)} but the hub needs {_show(heads)}: "
        "run `hub db upgrade`"
    )
