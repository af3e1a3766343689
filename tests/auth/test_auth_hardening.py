"""bcrypt password hashes from the YAML file, hashes refused when they are neither argon2 nor bcrypt,
and lockout counters purged once they count no more."""

from __future__ import annotations

import uuid
from datetime import timedelta

import bcrypt
import httpx
import pytest
import yaml
from sqlalchemy import func, select

from hub import config_file
from hub.auth.models import AuthLockout
from hub.db.base import utcnow
from hub.transactions import retention
from tests.conftest import channel

LONG = "p" * 80  # bcrypt reads the first 72 bytes: the hashing system did too


def bcrypt_hash(password: str, prefix: str) -> str:
    made = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(4, prefix=b"2a" if prefix == "2a" else b"2b"))
    return made.decode().replace("$2b$", f"${prefix}$", 1)


def test_yaml_clients_with_bcrypt_hashes_sign_in(make_hub, upstream):
    clients = {"a": ("2a", "password-a"), "b": ("2b", "password-b"), "y": ("2y", LONG)}
    hub = make_hub(
        {
            "clients": [
                {
                    "client_id": cid,
                    "name": cid,
                    "roles": ["partner"],
                    "password_hash": bcrypt_hash(pw, prefix),
                }
                for cid, (prefix, pw) in clients.items()
            ],
            "channels": [channel("echo", r"/echo", upstream)],
        },
        auth_cache_ttl_s=0,
    )
    for cid, (prefix, password) in clients.items():
        assert httpx.get(hub.url + "/echo", auth=(cid, password)).status_code == 200, prefix
        assert httpx.get(hub.url + "/echo", auth=(cid, "wrong")).status_code == 401, prefix


@pytest.mark.parametrize(
    "password_hash",
    [
        "not-a-hash",
        "$2b$10$" + "a" * 53,  # a salt whose last character holds more than its 2 bits
        "$2b$03$" + "a" * 21 + "e" + "a" * 31,  # bcrypt's cost is 4 to 31
        "$argon2id$v=19$m=65536,t=3,p=4",  # no salt, no hash
    ],
    ids=["not-a-hash", "bad-bcrypt-salt", "bad-bcrypt-cost", "argon2-without-hash"],
)
def test_a_hash_that_is_neither_argon2_nor_bcrypt_is_refused_at_load(tmp_path, password_hash):
    path = tmp_path / "hub.yaml"
    client = {"client_id": "lab", "name": "Lab", "password_hash": password_hash}
    path.write_text(yaml.safe_dump({"clients": [client]}))
    with pytest.raises(
        ValueError, match="client lab: password_hash is neither an argon2 nor a bcrypt hash"
    ) as exc:
        config_file.read(str(path))
    assert password_hash not in str(exc.value)


def test_expired_lockout_counters_are_purged_by_retention(make_hub, upstream):
    hub = make_hub(
        {"channels": [channel("echo", r"/echo", upstream)]}, auth_lockout_s=60, auth_max_failures=2
    )
    for _ in range(10):  # names that exist nowhere: a row for each, and one for each from this address
        assert httpx.get(hub.url + "/echo", auth=(uuid.uuid4().hex, "x")).status_code == 401
    for _ in range(2):
        httpx.get(hub.url + "/echo", auth=("locked", "x"))
    db, settings = hub.runtime.db, hub.settings

    def rows() -> int:
        with db.session() as session:
            return session.scalar(select(func.count()).select_from(AuthLockout))

    assert rows() == 22
    with db.session() as session:
        assert retention.apply(session, settings).lockouts_purged == 0, "all within the window"
        session.get(AuthLockout, "client:locked@127.0.0.1").locked_until = utcnow() + timedelta(hours=1)
    later = utcnow() + timedelta(seconds=61)
    with db.session() as session:
        assert retention.apply(session, settings, now=later).lockouts_purged == 21
    with db.session() as session:
        assert list(session.scalars(select(AuthLockout.principal))) == ["client:locked@127.0.0.1"]
    assert httpx.get(hub.url + "/echo", auth=("locked", "x")).status_code == 429, "a lock in force stays"
