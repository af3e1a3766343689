"""indexes that end in id, for the admin API's filtered lists

The transaction and delivery lists page newest first by id (``WHERE <filter> ORDER BY id DESC
LIMIT n``, with ``id < cursor`` for the next page). Their filter indexes ended in ``started_at``
(or had no ``id`` at all), so a page was a full table scan (SQLite) or a sort of every matching
row (PostgreSQL); the channel filter, on ``channel_name``, had no index. Each filter now has an
index on (filter column, id): a page is a short backward range scan. ``channel_pk`` keeps an
index of its own for its foreign key's ``ON DELETE SET NULL``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 15:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, old index, its columns) replaced by (new index, its columns)
REPLACED = (
    (
        "transactions",
        "ix_transactions_status_started_at",
        ["status", "started_at"],
        "ix_transactions_by_status",
        ["status", "id"],
    ),
    (
        "transactions",
        "ix_transactions_client_started_at",
        ["client_id", "started_at"],
        "ix_transactions_by_client",
        ["client_id", "id"],
    ),
    (
        "transactions",
        "ix_transactions_channel_started_at",
        ["channel_pk", "started_at"],
        "ix_transactions_channel_pk",
        ["channel_pk"],
    ),
)
ADDED = (
    ("transactions", "ix_transactions_by_channel", ["channel_name", "id"]),
    ("deliveries", "ix_deliveries_by_status", ["status", "id"]),
    ("deliveries", "ix_deliveries_by_route", ["route_name", "id"]),
)


def upgrade() -> None:
    for table, old, _, new, columns in REPLACED:
        op.drop_index(old, table_name=table)
        op.create_index(new, table, columns)
    for table, name, columns in ADDED:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for table, name, _ in ADDED:
        op.drop_index(name, table_name=table)
    for table, old, old_columns, new, _ in REPLACED:
        op.drop_index(new, table_name=table)
        op.create_index(old, table, old_columns)
