"""bcrypt password hashes from the YAML file, hashes refused when they are neither argon2 nor bcrypt,
lockout counters purged once they count no more, and a wrong password's time that tells nothing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import bcrypt
import httpx
import pytest
import yaml
from sqlalchemy import func, select

from hub import config_file
from hub.auth import passwords
from hub.auth.models import AuthLockout
from hub.db.base import utcnow
from hub.transactions import retention
from tests.conftest import PARTNER, PASSWORD, channel

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


def test_a_wrong_password_takes_as_long_whatever_the_name_and_its_hash(make_hub, upstream, monkeypatch):
    """A YAML client's bcrypt hash took its own time to refuse a wrong password, an unknown name the
    argon2 dummy's: the difference told an attacker the name exists. Every verification now lasts
    at least as long as the costliest kind of hash stored, timed at start-up, so even the first
    request tells nothing."""
    monkeypatch.setattr(passwords, "_FLOOR", passwords._Floor())  # this test's hashes, not earlier ones
    made = bcrypt.hashpw(b"legacy-password", bcrypt.gensalt(12))  # ~0.25 s: well above a request's own time
    bcrypt_s = min(timed(lambda: bcrypt.checkpw(b"wrong", made)) for _ in range(3))
    monkeypatch.setenv("P1_PASSWORD", PASSWORD)
    legacy = {"client_id": "legacy", "name": "legacy", "roles": ["partner"], "password_hash": made.decode()}
    hub = make_hub(
        {"clients": [PARTNER, legacy], "channels": [channel("echo", r"/echo", upstream)]}, auth_cache_ttl_s=0
    )

    def refused(name: str) -> float:
        return timed(lambda: httpx.get(hub.url + "/echo", auth=(name, "wrong-password")))

    # before the bcrypt client was ever tried: the start-up timed its hash
    times = {"unknown": refused("nobody"), "argon2": refused("partner-1"), "bcrypt": refused("legacy")}
    assert all(took >= 0.8 * bcrypt_s for took in times.values()), (times, bcrypt_s)
    assert httpx.get(hub.url + "/echo", auth=("partner-1", PASSWORD)).status_code == 200
    assert httpx.get(hub.url + "/echo", auth=("legacy", "legacy-password")).status_code == 200


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started
