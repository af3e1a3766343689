"""Audit of client auth: lockout under concurrency, 403 for disabled clients, odd usernames,
SHA-256-only certificate fingerprints. Over real HTTP against a running hub, on each backend."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from hub.auth.models import AuthLockout
from hub.auth.service import sha256_fingerprint
from hub.clients.service import upsert_from_config
from hub.config_file import ClientConfig
from hub.db.base import utcnow
from tests.conftest import ADMIN, channel

PROBLEM = "application/problem+json"
ECHO = lambda upstream: channel("echo", r"/echo", upstream)  # noqa: E731
SHA256 = "AB:" * 31 + "CD"  # 32 octets, colon-separated, upper case as openssl prints them


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def hub(make_hub, upstream, monkeypatch):
    monkeypatch.setenv("P_PASS", "right-password")
    return make_hub(
        {
            "clients": [{"client_id": "c1", "name": "C1", "roles": ["partner"], "password_env": "P_PASS"}],
            "channels": [ECHO(upstream)],
        },
        auth_max_failures=3,
        auth_lockout_s=60,
        auth_cache_ttl_s=0,
    )


def test_concurrent_wrong_passwords_get_no_more_tries_than_the_limit(hub):
    """Counted only after verification, every request sent at once was checked: the limit capped nothing."""
    with ThreadPoolExecutor(20) as pool:
        codes = list(
            pool.map(
                lambda _: httpx.get(hub.url + "/echo", auth=("c1", "bad"), timeout=30).status_code, range(20)
            )
        )
    assert sorted(set(codes)) == [401, 429], codes
    assert codes.count(401) == 3, f"only 3 passwords may be tried, {codes.count(401)} were: {codes}"
    with hub.runtime.db.session() as session:
        assert session.get(AuthLockout, "client:c1").failures == 3


def test_concurrent_first_failures_of_a_new_name_are_all_401_or_429(hub):
    """Many first attempts for one name at once create its counter once (no duplicate-key error)."""
    with ThreadPoolExecutor(20) as pool:
        answers = list(
            pool.map(lambda _: httpx.get(hub.url + "/echo", auth=("nobody", "x"), timeout=30), range(20))
        )
    assert {r.status_code for r in answers} <= {401, 429}, [(r.status_code, r.text) for r in answers]
    assert all(r.headers["content-type"] == PROBLEM for r in answers)


def test_a_success_clears_the_attempts_counted_from_its_address(hub):
    for _ in range(2):
        assert httpx.get(hub.url + "/echo", auth=("c1", "bad")).status_code == 401
    assert httpx.get(hub.url + "/echo", auth=("c1", "right-password")).status_code == 200
    with hub.runtime.db.session() as session:
        assert session.get(AuthLockout, "client:c1@127.0.0.1") is None, "the address's failures are cleared"
        assert session.get(AuthLockout, "client:c1").failures == 2, "the name's count only expires"
    for _ in range(2):  # the address's budget is whole again
        assert httpx.get(hub.url + "/echo", auth=("c1", "bad")).status_code == 401
    assert httpx.get(hub.url + "/echo", auth=("c1", "right-password")).status_code == 200


def test_a_locked_out_client_is_refused_even_with_the_right_password(hub):
    for _ in range(3):
        httpx.get(hub.url + "/echo", auth=("c1", "bad"))
    r = httpx.get(hub.url + "/echo", auth=("c1", "right-password"))
    assert r.status_code == 429 and r.headers["content-type"] == PROBLEM
    with hub.runtime.db.session() as session:  # the lock lapses
        session.get(AuthLockout, "client:c1@127.0.0.1").locked_until = utcnow()
    assert httpx.get(hub.url + "/echo", auth=("c1", "right-password")).status_code == 200


@pytest.mark.parametrize(
    "name",
    [pytest.param("x" * 400, id="longer-than-any-name"), pytest.param("a\x00b", id="nul")],
)
def test_a_name_no_principal_can_have_is_a_401_with_a_challenge(hub, name):
    """PostgreSQL refused these names (too long for the lockout key, NUL): a 400 without a challenge."""
    now = utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    answers = {
        "channel": httpx.get(hub.url + "/echo", headers=basic(name, "pw")),
        "admin": httpx.get(hub.url + "/admin/clients", headers=basic(name, "pw")),
    }
    if "\x00" not in name:  # a header cannot carry NUL
        legacy = {"auth-username": name, "auth-ts": now, "auth-salt": "s", "auth-token": "t"}
        answers["legacy"] = httpx.get(hub.url + "/mediators", headers=legacy)
    for where, r in answers.items():
        assert r.status_code == 401, (where, r.status_code, r.text)
        assert r.headers["content-type"] == PROBLEM and "basic" in r.headers["www-authenticate"].lower()


def test_the_legacy_challenge_answers_a_salt_for_any_name(hub):
    for user in ("a%00b", "x" * 400):
        r = httpx.get(hub.url + f"/authenticate/{user}")
        assert r.status_code == 200 and len(r.json()["salt"]) == 32, (user, r.text)


# -- disabled clients: 403, and no lockout -----------------------------------------------------------


def test_a_disabled_client_with_the_right_credentials_is_403_and_never_locked_out(hub):
    with hub.admin() as admin:
        token = admin.post("/admin/clients/c1/tokens", json={"name": "ci"}).json()["token"]
        assert admin.patch("/admin/clients/c1", json={"enabled": False}).status_code == 200
    for _ in range(5):  # more than auth_max_failures: a disabled client's retries are not failures
        r = httpx.get(hub.url + "/echo", auth=("c1", "right-password"))
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, r.text
        assert "disabled" in r.json()["detail"]
    r = httpx.get(hub.url + "/echo", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and "disabled" in r.json()["detail"], r.text
    wrong = httpx.get(hub.url + "/echo", auth=("c1", "wrong-password"))
    assert wrong.status_code == 401 and "www-authenticate" in wrong.headers, "a wrong password stays 401"
    with hub.admin() as admin:
        assert admin.patch("/admin/clients/c1", json={"enabled": True}).status_code == 200
    assert httpx.get(hub.url + "/echo", auth=("c1", "right-password")).status_code == 200


# -- certificate fingerprints ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fingerprint",
    [
        pytest.param("AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01", id="sha1"),
        pytest.param("zz" * 32, id="not-hex"),
        pytest.param("ab" * 33, id="too-long"),
    ],
)
def test_a_fingerprint_that_is_not_a_sha256_is_422(hub, fingerprint):
    """The hub compares SHA-256s: any other fingerprint was stored and could never match."""
    with hub.admin() as admin:
        created = admin.post(
            "/admin/clients", json={"client_id": "lab", "name": "Lab", "cert_fingerprint": fingerprint}
        )
        patched = admin.patch("/admin/clients/c1", json={"cert_fingerprint": fingerprint})
        missing = admin.get("/admin/clients/lab")
    for r in (created, patched):
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
        assert "SHA-256" in r.text
    assert missing.status_code == 404


def test_a_sha256_fingerprint_is_normalised_and_can_be_removed(hub):
    with hub.admin() as admin:
        created = admin.post(
            "/admin/clients", json={"client_id": "lab", "name": "Lab", "cert_fingerprint": f" {SHA256} "}
        )
        removed = admin.patch("/admin/clients/lab", json={"cert_fingerprint": ""})
    assert created.status_code == 201 and created.json()["cert_fingerprint"] == "ab" * 31 + "cd"
    assert removed.status_code == 200 and removed.json()["cert_fingerprint"] is None


def test_a_config_file_with_a_sha1_fingerprint_is_refused(db):
    sha1 = ClientConfig(
        client_id="lab",
        name="Lab",
        cert_fingerprint="AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01",
    )
    with (
        pytest.raises(ValueError, match=r"client 'lab': cert_fingerprint must be .*SHA-256"),
        db.session() as session,
    ):
        upsert_from_config(session, config=sha1, password=None)
    with db.session() as session:
        made = upsert_from_config(
            session, config=ClientConfig(client_id="lab", name="Lab", cert_fingerprint=SHA256), password=None
        )
        assert made.cert_fingerprint == "ab" * 31 + "cd"


def test_sha256_fingerprint_accepts_openssl_and_plain_forms():
    assert (
        sha256_fingerprint(SHA256) == sha256_fingerprint(SHA256.replace(":", " ").lower()) == "ab" * 31 + "cd"
    )
    with pytest.raises(ValueError, match="SHA-256"):
        sha256_fingerprint("ab" * 20)


def test_the_admin_credentials_still_work(hub):
    assert httpx.get(hub.url + "/admin/clients", auth=ADMIN).status_code == 200
