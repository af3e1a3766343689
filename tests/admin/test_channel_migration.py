"""Migration 0014: channels stored before content types were literal, or with "/" in their names."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select

from hub.channels.models import Channel
from hub.channels.service import to_spec
from hub.db.migrate import alembic_config

ROUTES = [{"name": "r", "url": "http://127.0.0.1:9", "primary": True}]


def test_stored_channels_load_after_the_migration(db, database_url):
    config = alembic_config(database_url)
    command.downgrade(config, "0013")
    stored = {
        "fhir": [r"application/fhir\+json", "TEXT/Plain"],
        "regex-only": ["application/.*", r"text/(xml|html)"],
        "team/a": [],
        "team-a": [],
    }
    with db.session() as session:
        session.add_all(
            Channel(name=name, url_pattern="^/x$", content_types=types, routes=ROUTES, allowed_roles=["r"])
            for name, types in stored.items()
        )
    command.upgrade(config, "heads")
    with db.session() as session:
        rows = {c.name: c for c in session.scalars(select(Channel))}
        assert sorted(rows) == ["fhir", "regex-only", "team-a", "team-a-2"]
        assert rows["fhir"].content_types == ["application/fhir+json", "text/plain"]
        assert rows["fhir"].enabled
        # no literal type left: disabled, not opened to every content type
        assert rows["regex-only"].content_types == [] and not rows["regex-only"].enabled
        for row in rows.values():
            to_spec(row)  # the routing table loads every one of them
    command.downgrade(config, "0013")
    with db.session() as session:
        fhir = session.scalar(select(Channel).where(Channel.name == "fhir"))
        assert fhir.content_types == [r"application/fhir\+json", "text/plain"]
    command.upgrade(config, "heads")
