"""hub instances: each hub serve process's name on the work it has in flight, and its heartbeat

Start-up recovery marked every Processing transaction and rerun task item Failed, those of
other replicas still running among them. Transactions and task items now record the instance
(``HUB_INSTANCE_NAME``) that opened or claimed them, and each instance beats in
``hub_instances``: only the work of this instance's earlier incarnation, of no instance (rows
from before this revision) or of an instance whose heartbeat stopped is taken over. Processing
transactions are found through ``ix_transactions_by_status``; task items in flight, across
tasks, get an index of their own.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.db.base import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hub_instances",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_hub_instances")),
    )
    # nullable, no default: adding them rewrites no row
    op.add_column("transactions", sa.Column("instance", sa.String(64), nullable=True))
    op.add_column("rerun_task_items", sa.Column("instance", sa.String(64), nullable=True))
    op.create_index("ix_rerun_task_items_in_flight", "rerun_task_items", ["status", "instance"])


def downgrade() -> None:
    op.drop_index("ix_rerun_task_items_in_flight", table_name="rerun_task_items")
    # plain ALTER TABLE … DROP COLUMN on both databases (SQLite 3.35+): no copy of the tables
    op.drop_column("rerun_task_items", "instance")
    op.drop_column("transactions", "instance")
    op.drop_table("hub_instances")
