"""OpenHIM's legacy token auth end to end: ``GET /authenticate/{user}``, then the ``auth-*`` headers.

The bootstrap admin keeps the legacy passhash only with ``HUB_ADMIN_LEGACY_TOKEN_AUTH``: this
module's ``hub`` sets it; the tests of the default use ``make_hub`` without it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import select

from hub.auth.models import User
from hub.auth.service import create_user
from hub.settings import Settings
from tests.conftest import ADMIN, write_config
from tests.mediators.conftest import mediator_doc

PROBLEM = "application/problem+json"


def sha512(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest()


def iso(moment: datetime) -> str:
    """JavaScript's ``toISOString()``, as OpenHIM's console and openhim-mediator-utils 0.2.4+ send it."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def token_headers(
    hub,
    email: str,
    password: str,
    *,
    skew: timedelta = timedelta(0),
    ts_text: Callable[[datetime], str] = iso,
) -> dict[str, str]:
    """What OpenHIM's console computes from the challenge (REFERENCE.md: OpenHIM mediator API)."""
    challenge = httpx.get(f"{hub.url}/authenticate/{email}").json()
    passhash = sha512(challenge["salt"] + password)
    salt = secrets.token_hex(16)
    ts = ts_text(datetime.now(UTC) + skew)
    return {
        "auth-username": email,
        "auth-ts": ts,
        "auth-salt": salt,
        "auth-token": sha512(passhash + salt + ts),
    }


@pytest.fixture
def hub(make_hub):
    """A hub whose bootstrap admin opted in to legacy token auth."""
    return make_hub(admin_legacy_token_auth=True)


def legacy_columns(hub, email: str) -> tuple[str | None, str | None]:
    with hub.runtime.db.session() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        return user.legacy_salt, user.legacy_passhash


def test_the_bootstrap_admin_has_no_legacy_token_auth_by_default(make_hub):
    hub = make_hub()
    assert legacy_columns(hub, ADMIN[0]) == (None, None)
    # as for any user without legacy auth: a salt to hash with (a fake one), then a 401 with the challenge
    challenge = httpx.get(f"{hub.url}/authenticate/{ADMIN[0]}")
    assert challenge.status_code == 200 and len(challenge.json()["salt"]) == 32
    refused = httpx.get(f"{hub.url}/mediators", headers=token_headers(hub, *ADMIN))
    assert refused.status_code == 401 and refused.headers["content-type"] == PROBLEM
    assert refused.json()["detail"] == "invalid legacy auth token"
    assert "basic" in refused.headers["www-authenticate"].lower()
    assert httpx.get(f"{hub.url}/mediators", auth=ADMIN).status_code == 200


def test_the_bootstrap_admin_opts_in_to_legacy_token_auth_and_hub_user_set_drops_it(hub, hub_cli):
    salt, passhash = legacy_columns(hub, ADMIN[0])
    assert httpx.get(f"{hub.url}/authenticate/{ADMIN[0]}").json()["salt"] == salt
    assert passhash == sha512(salt + ADMIN[1])
    assert httpx.get(f"{hub.url}/mediators", headers=token_headers(hub, *ADMIN)).status_code == 200
    assert "legacy token auth" in hub_cli("user", "list") and '"legacy_token_auth": true' in hub_cli(
        "user", "list", "--json"
    )

    assert f"user {ADMIN[0]} changed" in hub_cli("user", "set", ADMIN[0], "--no-legacy-token-auth")
    assert legacy_columns(hub, ADMIN[0]) == (None, None)
    assert httpx.get(f"{hub.url}/mediators", headers=token_headers(hub, *ADMIN)).status_code == 401
    assert httpx.get(f"{hub.url}/mediators", auth=ADMIN).status_code == 200, "Basic as before"


@pytest.mark.parametrize("source", ["environment", "config-file"])
def test_the_setting_is_read_from_the_environment_or_the_config_file(source, monkeypatch, tmp_path):
    for name in ("HUB_CONFIG", "HUB_ADMIN_LEGACY_TOKEN_AUTH"):
        monkeypatch.delenv(name, raising=False)
    assert Settings().admin_legacy_token_auth is False
    if source == "environment":
        monkeypatch.setenv("HUB_ADMIN_LEGACY_TOKEN_AUTH", "true")
    else:
        monkeypatch.setenv("HUB_CONFIG", write_config(tmp_path, {"admin_legacy_token_auth": True}))
    assert Settings().admin_legacy_token_auth is True


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
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM


EAST_AFRICA = timezone(timedelta(hours=3))
# auth-ts as mediators send it: OpenHIM core reads it with JavaScript's Date.parse
TS_FORMS = {
    # openhim-mediator-utils 0.2.x and OpenHIM's docs sample: String(new Date()) on a server in Nairobi
    "js-date-string": lambda m: m.astimezone(EAST_AFRICA).strftime(
        "%a %b %d %Y %H:%M:%S GMT+0300 (East Africa Time)"
    ),
    "rfc-1123": lambda m: m.strftime("%a, %d %b %Y %H:%M:%S GMT"),  # toUTCString()
    "python-str-utcnow": lambda m: str(m.replace(tzinfo=None)),  # openhim-mediator-utils-py
    "iso-offset": lambda m: m.astimezone(EAST_AFRICA).isoformat(),
    "en-us": lambda m: m.strftime("%m/%d/%Y %I:%M:%S %p"),  # .NET DateTime.UtcNow.ToString()
}


@pytest.mark.parametrize("form", TS_FORMS.values(), ids=TS_FORMS.keys())
def test_auth_ts_in_any_form_date_parse_reads(hub, form):
    fresh = token_headers(hub, *ADMIN, ts_text=form)
    stale = token_headers(hub, *ADMIN, ts_text=form, skew=timedelta(seconds=-60))
    assert httpx.get(f"{hub.url}/mediators", headers=fresh).status_code == 200
    assert httpx.get(f"{hub.url}/mediators", headers=stale).status_code == 401


def test_auth_ts_that_names_no_time_is_401(hub):
    headers = token_headers(hub, *ADMIN, ts_text=lambda _: "Sun Nov 31 2026 25:00:00 GMT+0000")
    r = httpx.get(f"{hub.url}/mediators", headers=headers)
    assert r.status_code == 401 and "auth-ts" in r.json()["detail"]


def test_wrong_tokens_sent_at_once_get_no_more_tries_than_the_limit(make_hub):
    """As Basic: each check of a name waits for the one before, so each sees its failure."""
    hub = make_hub(admin_legacy_token_auth=True, auth_max_failures=3, auth_lockout_s=60)
    guesses = [token_headers(hub, ADMIN[0], f"guess-{i}") for i in range(20)]
    with ThreadPoolExecutor(20) as pool:
        codes = list(
            pool.map(lambda h: httpx.get(f"{hub.url}/mediators", headers=h, timeout=30).status_code, guesses)
        )
    assert codes.count(401) == 3 and codes.count(429) == 17, codes


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
