"""transactions.path and .query, deliveries.url: text without a length limit

A request line may be as long as the server in front of the hub takes (DHIS2's Tomcat and
nginx take about 8 KB; FHIR searches such as ``_id=a,b,c…`` often pass 4 KB). PostgreSQL
refused a path over 2,000 or a query or delivery URL over 4,000 characters, so such a request
was neither logged nor forwarded, or, when only a secondary route's URL was too long, was
forwarded to the primary and left Processing. SQLite never enforced the lengths, so only
PostgreSQL's columns change (a relabel: varchar to text rewrites no rows).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = [("transactions", "path", 2000), ("transactions", "query", 4000), ("deliveries", "url", 4000)]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in COLUMNS:
        op.alter_column(table, column, type_=sa.Text(), existing_type=sa.String(length))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in COLUMNS:
        op.alter_column(table, column, type_=sa.String(length), existing_type=sa.Text())
