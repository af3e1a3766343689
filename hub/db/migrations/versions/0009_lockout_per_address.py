"""lockout counted per name and address: room for the address in auth_lockouts.principal

A name's failures were counted from every address together, so anyone could lock a client out
by guessing its password. They are now counted per name and address (``client:<id>@<address>``)
as well as per name, under a higher limit; the key needs room for an address after a name of
255 characters.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("auth_lockouts") as batch:
        batch.alter_column("principal", type_=sa.String(400), existing_type=sa.String(300))


def downgrade() -> None:
    # keys with an address may not fit any more; they are counters, safe to forget
    op.execute("DELETE FROM auth_lockouts WHERE length(principal) > 300")
    with op.batch_alter_table("auth_lockouts") as batch:
        batch.alter_column("principal", type_=sa.String(300), existing_type=sa.String(400))
