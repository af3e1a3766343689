"""credential revision: a count of changes to users, clients and tokens

The credential cache of a hub process was cleared only by changes made in that process: a
password changed or a token revoked through another replica, or with ``hub user set``, kept
working there until the cache's TTL. Every change now moves this one row's number in the same
DB transaction, and every process forgets its cache when it sees the number move.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "credential_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_revision")),
    )
    op.bulk_insert(table, [{"id": 1, "number": 0}])


def downgrade() -> None:
    op.drop_table("credential_revision")
