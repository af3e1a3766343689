"""OpenHIM's legacy token auth end to end: ``GET /authenticate/{user}``, then the ``auth-*`` headers."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from hub.auth.service import create_user
from tests.conftest import ADMIN
from tests.mediators.conftest import mediator_doc


def sha512(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest()


def token_headers(hub, email: str, password: str, *, skew: timedelta = timedelta(0)) -> dict[str, str]:
    """What OpenHIM's console computes from the challenge (REFERENCE.md: OpenHIM mediator API)."""
    challenge = httpx.get(f"{hub.url}/authenticate/{email}").json()
    passhash = sha512(challenge["salt"] + password)
    salt = secrets.token_hex(16)
    ts = (datetime.now(UTC) + skew).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "auth-username": email,
        "auth-ts": ts,
        "auth-salt": salt,
        "auth-token": sha512(passhash + salt + ts),
    }


def test_challenge_is_public_and_gives_salt_and_server_time(hub):
    r = httpx.get(f"{hub.url}/authenticate/{ADMIN[0]}")
    assert r.status_code == 200
    assert len(r.json()["salt"]) == 32
    assert abs(datetime.fromisoformat(r.json()["ts"]) - datetime.now(UTC)) < timedelta(seconds=5)


def test_unknown_users_get_a_stable_fake_salt(hub):
    first = httpx.get(f"{hub.url}/authenticate/nobody@hub.test").json()["salt"]
    again = httpx.get(f"{hub.url}/authenticate/nobody@hub.test").json()["salt"]
    real = httpx.get(f"{hub.url}/authenticate/{ADMIN[0]}").json()["salt"]
    assert first == again != real


def test_token_auth_reaches_the_mediator_api(hub):
    headers = token_headers(hub, *ADMIN)
    registered = httpx.post(f"{hub.url}/mediators", json=mediator_doc(), headers=headers)
    listed = httpx.get(f"{hub.url}/mediators", headers=token_headers(hub, *ADMIN))
    assert registered.status_code == 201
    assert listed.status_code == 200 and [m["urn"] for m in listed.json()] == [mediator_doc()["urn"]]


@pytest.mark.parametrize(
    ("password", "skew"),
    [("wrong-password", timedelta(0)), (ADMIN[1], timedelta(seconds=-60)), (ADMIN[1], timedelta(seconds=60))],
    ids=["wrong-password", "stale-ts", "future-ts"],
)
def test_bad_or_stale_tokens_are_401(hub, password, skew):
    r = httpx.get(f"{hub.url}/mediators", headers=token_headers(hub, ADMIN[0], password, skew=skew))
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


def test_missing_token_header_is_401(hub):
    headers = token_headers(hub, *ADMIN)
    del headers["auth-salt"]
    assert httpx.get(f"{hub.url}/mediators", headers=headers).status_code == 401


def test_token_auth_for_a_non_admin_is_403(hub):
    with hub.runtime.db.session() as session:
        create_user(
            session,
            email="clerk@hub.test",
            password="clerk-pass-1",
            groups=["viewer"],
            legacy_token_auth=True,
        )
    r = httpx.get(f"{hub.url}/mediators", headers=token_headers(hub, "clerk@hub.test", "clerk-pass-1"))
    assert r.status_code == 403
