"""Lockout counts failures per name and address, and per name from every address together.

Over real HTTP on loopback: the tests call from several addresses of 127.0.0.0/8, which Linux
routes to the hub's 127.0.0.1 listener, on each backend.
"""

from __future__ import annotations

import httpx
import pytest
from alembic import command
from sqlalchemy import select, text

from hub.auth.models import AuthLockout
from hub.auth.service import UNKNOWN_ADDRESS, client_address
from hub.db.base import utcnow
from hub.db.migrate import alembic_config
from tests.conftest import ADMIN, channel


@pytest.fixture
def hub(make_hub, upstream, monkeypatch):
    monkeypatch.setenv("P_PASS", "right-password")
    return make_hub(
        {
            "clients": [{"client_id": "c1", "name": "C1", "roles": ["partner"], "password_env": "P_PASS"}],
            "channels": [channel("echo", r"/echo", upstream)],
        },
        auth_max_failures=3,
        auth_max_failures_per_name=5,
        auth_lockout_s=60,
        auth_cache_ttl_s=0,
    )


def call(hub, address: str, password: str, path: str = "/echo", user: str = "c1", **headers: str) -> int:
    """The status of a GET to ``path`` sent from ``address`` with Basic ``user:password``."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport, timeout=30) as client:
        return client.get(hub.url + path, auth=(user, password), headers=headers).status_code


def counters(hub) -> dict[str, int]:
    with hub.runtime.db.session() as session:
        return {r.principal: r.failures for r in session.scalars(select(AuthLockout))}


def test_guessing_from_one_address_does_not_lock_the_client_out_elsewhere(hub):
    for _ in range(3):
        assert call(hub, "127.0.0.2", "bad") == 401
    assert call(hub, "127.0.0.2", "right-password") == 429, "the guessing address is locked out"
    assert call(hub, "127.0.0.1", "right-password") == 200, "the client's own address is not"
    assert counters(hub) == {"client:c1@127.0.0.2": 3, "client:c1": 3}


def test_guesses_spread_over_addresses_lock_the_name_everywhere(hub):
    for address in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        for _ in range(2):  # under the per-address limit of 3 at each
            code = call(hub, address, "bad")
            assert code in (401, 429)
    assert counters(hub)["client:c1"] == 5
    assert call(hub, "127.0.0.5", "right-password") == 429, "the name's limit (5) is reached"
    assert call(hub, "127.0.0.1", "right-password") == 429


def test_a_success_does_not_reset_the_names_count(hub):
    """Otherwise a client that signs in regularly would give spread guesses a fresh budget."""
    for address in ("127.0.0.2", "127.0.0.3"):
        for _ in range(2):
            assert call(hub, address, "bad") == 401
    assert call(hub, "127.0.0.2", "right-password") == 200
    assert "client:c1@127.0.0.2" not in counters(hub)
    assert counters(hub)["client:c1"] == 4
    assert call(hub, "127.0.0.6", "bad") == 401
    assert call(hub, "127.0.0.1", "right-password") == 429


def test_admin_users_are_counted_per_address_too(hub):
    for _ in range(3):
        assert call(hub, "127.0.0.2", "bad", "/admin/clients", ADMIN[0]) == 401
    assert call(hub, "127.0.0.2", ADMIN[1], "/admin/clients", ADMIN[0]) == 429
    assert call(hub, "127.0.0.1", ADMIN[1], "/admin/clients", ADMIN[0]) == 200
    assert counters(hub)[f"user:{ADMIN[0]}@127.0.0.2"] == 3


def test_a_trusted_proxy_names_the_address(hub):
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 (its default, HUB_FORWARDED_ALLOW_IPS in
    ``hub serve``) and ignores it from anyone else."""
    assert call(hub, "127.0.0.1", "bad", **{"X-Forwarded-For": "203.0.113.9"}) == 401
    assert call(hub, "127.0.0.2", "bad", **{"X-Forwarded-For": "198.51.100.7"}) == 401
    assert set(counters(hub)) == {"client:c1@203.0.113.9", "client:c1@127.0.0.2", "client:c1"}


@pytest.mark.parametrize(
    ("client", "address"),
    [
        (("10.1.2.3", 5000), "10.1.2.3"),
        (("2001:DB8:0:0::1", 5000), "2001:db8::1"),
        (None, UNKNOWN_ADDRESS),
        (("testclient", 50000), "testclient"),
        (("x" * 300, 1), "x" * 64),
    ],
)
def test_client_address_is_normalised_and_bounded(client, address):
    assert client_address({"client": client}) == address


def test_the_migration_keeps_counters_and_makes_room_for_an_address(db, database_url):
    """0009 widens ``auth_lockouts.principal``; its downgrade drops only keys that no longer fit."""
    config = alembic_config(database_url)
    command.downgrade(config, "0008")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO auth_lockouts (principal, failures, last_failure_at)"
                " VALUES ('client:old', 2, :t)"
            ),
            {"t": utcnow()},
        )
    command.upgrade(config, "heads")
    longest = f"client:{'n' * 255}@{'2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'}"
    with db.session() as session:
        assert session.get(AuthLockout, "client:old").failures == 2
        session.add(AuthLockout(principal=longest, failures=1, last_failure_at=utcnow()))
    command.downgrade(config, "0008")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT principal FROM auth_lockouts")).scalars().all() == ["client:old"]
    command.upgrade(config, "heads")
