"""transactions: whether the primary's mediator reported the status

OpenHIM lets the status a mediator reports stand when the transaction's secondary routes
settle; a mediator that reports none gets the status its routes imply. The hub told the two
apart by the mediator's urn, which a mediator may send without a status, or leave out while
reporting one. The close now records it. Rows from before keep that reading: reported when
they have a urn.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a constant default: neither database rewrites the table to add it
    op.add_column(
        "transactions",
        sa.Column("status_reported", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    transactions = sa.table("transactions", sa.column("mediator_urn"), sa.column("status_reported"))
    op.execute(
        transactions.update().where(transactions.c.mediator_urn.is_not(None)).values(status_reported=True)
    )


def downgrade() -> None:
    op.drop_column("transactions", "status_reported")
