"""channels: no route reads its secret from the hub's own settings

A route's ``auth.secret_env`` may no longer name an environment variable of the hub's own
(``HUB_*``: its database URL, secret key, first admin's password), Airflow's (``AIRFLOW_*``) or
PostgreSQL's password (``PGPASS*``): channels come from the admin API too, and any name let an
admin have the hub send such a secret to a URL of their choosing. A stored route that names one
loses its ``auth`` and its channel is disabled, for an admin to give the upstream's secret a
variable of its own.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-27 10:00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# as hub.channels.schemas.RESERVED_ENV_PREFIXES at this revision (a migration keeps its own copy)
RESERVED = ("HUB_", "AIRFLOW_", "PGPASS")

channels = sa.table(
    "channels",
    sa.column("id", sa.BigInteger()),
    sa.column("routes", sa.JSON()),
    sa.column("enabled", sa.Boolean()),
)


def _reserved(route: dict) -> bool:
    auth = route.get("auth")
    return isinstance(auth, dict) and str(auth.get("secret_env", "")).upper().startswith(RESERVED)


def upgrade() -> None:
    bind = op.get_bind()
    for pk, stored in bind.execute(sa.select(channels.c.id, channels.c.routes)).all():
        routes = json.loads(stored) if isinstance(stored, str) else (stored or [])
        if any(_reserved(r) for r in routes):
            kept = [{**r, "auth": None} if _reserved(r) else r for r in routes]
            bind.execute(sa.update(channels).where(channels.c.id == pk).values(routes=kept, enabled=False))


def downgrade() -> None:
    """Nothing to undo: the secrets' names are not kept."""
