"""users: one user per e-mail in any case, enforced by the database

E-mails match in any case (as OpenHIM matches them) since the create checks for a variant
first; two requests at once could still both pass the check. A unique index on ``lower(email)``
makes the database refuse the second. Users that already differ only by case stop the upgrade
with their e-mails: remove all but one of each (``hub user remove <e-mail>``, which takes the
exact e-mail first: the hub does not serve before the upgrade), then run ``hub db upgrade``
again.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

users = sa.table("users", sa.column("email", sa.String()))


def upgrade() -> None:
    lowered = sa.func.lower(users.c.email)
    clashes = (
        op.get_bind()
        .execute(sa.select(sa.func.min(users.c.email)).group_by(lowered).having(sa.func.count() > 1))
        .scalars()
        .all()
    )
    if clashes:
        raise RuntimeError(
            f"users whose e-mails differ only by case: {sorted(clashes)} (and their variants); remove all "
            "but one of each (`hub user remove <exact e-mail>`), then run `hub db upgrade` again"
        )
    op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)


def downgrade() -> None:
    op.drop_index("uq_users_email_lower", table_name="users")
