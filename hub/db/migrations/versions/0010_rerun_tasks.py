"""rerun tasks: many transactions rerun in the background, a batch at a time (OpenHIM's tasks)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21 19:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.db.base import UTCDateTime

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rerun_tasks",
        sa.Column("id", BigId, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rerun_tasks")),
    )
    op.create_index("ix_rerun_tasks_by_status", "rerun_tasks", ["status", "id"])
    op.create_table(
        "rerun_task_items",
        sa.Column("id", BigId, nullable=False),
        sa.Column("task_id", BigId, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("transaction_id", BigId, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("child_id", BigId, nullable=True),
        sa.Column("rerun_status", sa.String(32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["rerun_tasks.id"],
            name=op.f("fk_rerun_task_items_task_id_rerun_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rerun_task_items")),
    )
    op.create_index("ix_rerun_task_items_by_status", "rerun_task_items", ["task_id", "status", "position"])


def downgrade() -> None:
    op.drop_table("rerun_task_items")
    op.drop_table("rerun_tasks")
