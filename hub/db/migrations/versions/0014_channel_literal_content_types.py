"""channels: content types as literal media types, names without "/"

A channel's ``content_types`` were regexes (the mediator API wrote ``application/fhir\\+json``);
they are now literal media types, as OpenHIM's ``matchContentTypes`` are. Escapes are removed and
the types lower-cased. An entry that was a real regex (``application/.*``, ``text/(xml|html)``) or
is still no ``type/subtype`` is dropped; a channel left with none is disabled rather than opened to every
content type, for an admin to review. Names can no longer hold "/" (no admin route could reach
them): each "/" becomes "-", with a number added should that name be taken.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25 10:00:00
"""

import json
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# as hub.channels.schemas.MEDIA_TYPE at this revision (a migration keeps its own copy of the rule)
MEDIA_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+")
ESCAPE = re.compile(r"\\(.)")
REGEX = re.compile(r"[*?()\[\]{}|^$]")  # never in a media type written out, unescaped

channels = sa.table(
    "channels",
    sa.column("id", sa.BigInteger()),
    sa.column("name", sa.String()),
    sa.column("content_types", sa.JSON()),
    sa.column("enabled", sa.Boolean()),
)


def _literal(types: list[str]) -> list[str]:
    literal = (t for t in types if not REGEX.search(ESCAPE.sub("", t)))
    unescaped = (ESCAPE.sub(r"\1", t).lower() for t in literal)
    return [t for t in unescaped if MEDIA_TYPE.fullmatch(t)]


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(channels.c.id, channels.c.name, channels.c.content_types)).all()
    taken = {name for _, name, _ in rows}
    for pk, name, stored in rows:
        types = json.loads(stored) if isinstance(stored, str) else (stored or [])
        values: dict[str, object] = {}
        literal = _literal(types)
        if literal != types:
            values["content_types"] = literal
            if types and not literal:
                values["enabled"] = False
        if "/" in name:
            renamed, n = name.replace("/", "-"), 1
            while renamed in taken:
                n += 1
                renamed = f"{name.replace('/', '-')}-{n}"
            taken.add(renamed)
            values["name"] = renamed
        if values:
            bind.execute(sa.update(channels).where(channels.c.id == pk).values(**values))


def downgrade() -> None:
    """Content types back to regexes of themselves; renamed channels keep their new names."""
    bind = op.get_bind()
    for pk, stored in bind.execute(sa.select(channels.c.id, channels.c.content_types)).all():
        types = json.loads(stored) if isinstance(stored, str) else (stored or [])
        if types:
            escaped = [re.escape(t) for t in types]
            bind.execute(sa.update(channels).where(channels.c.id == pk).values(content_types=escaped))
