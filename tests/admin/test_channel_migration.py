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


def test_routes_that_read_a_reserved_secret_lose_it_and_disable_their_channel(db, database_url):
    config = alembic_config(database_url)
    command.downgrade(config, "0017")
    leaky = {**ROUTES[0], "auth": {"type": "bearer", "secret_env": "HUB_DATABASE_URL"}}
    fine = {
        **ROUTES[0],
        "name": "s",
        "primary": False,
        "auth": {"type": "basic", "username": "u", "secret_env": "DHIS2_PASSWORD"},
    }
    with db.session() as session:
        session.add(Channel(name="leaky", url_pattern="^/l$", routes=[leaky, fine], allowed_roles=["r"]))
        session.add(
            Channel(name="fine", url_pattern="^/f$", routes=[{**fine, "primary": True}], allowed_roles=["r"])
        )
    command.upgrade(config, "heads")
    with db.session() as session:
        rows = {c.name: c for c in session.scalars(select(Channel))}
        assert not rows["leaky"].enabled and rows["fine"].enabled, "a route of its own variable is left alone"
        assert [r.get("auth") for r in rows["leaky"].routes] == [None, fine["auth"]]
        for row in rows.values():
            to_spec(row)


def test_a_route_may_not_read_the_hubs_own_settings(hub, upstream):
    for name in ("HUB_DATABASE_URL", "hub_secret_key", "AIRFLOW_CONN_DHIS2", "PGPASSWORD"):
        route = {**ROUTES[0], "url": upstream, "auth": {"type": "bearer", "secret_env": name}}
        with hub.admin() as admin:
            r = admin.post(
                "/admin/channels",
                json={"name": "x", "url_pattern": "^/x$", "routes": [route], "allowed_roles": ["r"]},
            )
        assert r.status_code in (400, 422) and "own settings" in r.text, r.text
