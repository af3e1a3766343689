"""bodies compressed with lz4 on PostgreSQL

Outbox deliveries carry whole dataValueSet chunks (~2 MB each), and the transaction log and the
async-import spool store bodies too. PostgreSQL's default TOAST compression, pglz, costs ~8 ms of
server CPU per such body; lz4 (PostgreSQL 14+, when the server is built with it) ~1 ms, for a
similar size. Servers without lz4 keep pglz. SQLite has no TOAST: nothing to do there.

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-21 10:55:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BODIES = (
    ("deliveries", "body"),
    ("transactions", "request_body"),
    ("transactions", "response_body"),
    ("dhis2_import_payload_chunks", "data"),
)


def _set_compression(method: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    statements = " ".join(f"ALTER TABLE {t} ALTER COLUMN {c} SET COMPRESSION {method};" for t, c in BODIES)
    # a server built without lz4 refuses the statement: it then keeps its default
    op.execute(f"DO $$ BEGIN {statements} EXCEPTION WHEN feature_not_supported THEN NULL; END $$")


def upgrade() -> None:
    _set_compression("lz4")


def downgrade() -> None:
    _set_compression("pglz")
