"""DHIS2 async import jobs: the hub serve process that runs each

At start-up every hub process started again every unfinished job, those a live replica was
running among them. A job now records the instance (``HUB_INSTANCE_NAME``) that runs it: only
the jobs of this instance's earlier incarnation, of no instance (rows from before this
revision) or of an instance whose heartbeat stopped are taken over (``hub.instances``).
Unfinished jobs are found through ``ix_dhis2_import_jobs_status``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # nullable, no default: adding it rewrites no row
    op.add_column("dhis2_import_jobs", sa.Column("instance", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("dhis2_import_jobs", "instance")
