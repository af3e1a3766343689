"""transactions.mediator_urn: text without a length limit; the body culls' own indexes

A mediator's reply names its urn (``x-mediator-urn``) whether or not it registered, and OpenHIM
sets no limit on it. PostgreSQL refused one over 300 characters: a queued route's outcome could not
be recorded (the worker counted a failed attempt and sent the delivery again, up to the dead letter)
and the gateway's close lost the reply's fields. SQLite never enforced the length, so only
PostgreSQL's column changes (a relabel: varchar to text rewrites no rows); the downgrade cuts a
longer urn to 300 characters.

Retention's body culls (transactions by ``started_at``, settled deliveries by ``created_at``) look
for rows past the cutoff whose bodies are still kept. Through the time indexes they read every row
already culled, up to the purge's age (335 days by default), at each hourly run; PostgreSQL chose a
sequential scan. Each now has a partial index of the rows it has yet to cull: a run reads only what
it culls. Building one blocks the table's writes while it reads the table; on a large PostgreSQL log,
build both beforehand with ``CREATE INDEX CONCURRENTLY`` as defined below, and the upgrade keeps them.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-28 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

URN_LENGTH = 300
# (index, table, column, its rows on PostgreSQL, on SQLite): those the culls have yet to cull
UNCULLED = (
    (
        "ix_transactions_unculled",
        "transactions",
        "started_at",
        "bodies_culled IS false",
        "bodies_culled IS 0",
    ),
    ("ix_deliveries_unculled", "deliveries", "created_at", "body <> ''::bytea", "body <> X''"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("transactions", "mediator_urn", type_=sa.Text(), existing_type=sa.String(URN_LENGTH))
    # IF NOT EXISTS: on a large PostgreSQL log an operator may build them first, CONCURRENTLY
    for name, table, column, postgresql, sqlite in UNCULLED:
        op.create_index(
            name,
            table,
            [column],
            postgresql_where=sa.text(postgresql),
            sqlite_where=sa.text(sqlite),
            if_not_exists=True,
        )


def downgrade() -> None:
    for name, table, *_ in UNCULLED:
        op.drop_index(name, table_name=table)
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "transactions",
            "mediator_urn",
            type_=sa.String(URN_LENGTH),
            existing_type=sa.Text(),
            postgresql_using=f"left(mediator_urn, {URN_LENGTH})",
        )
