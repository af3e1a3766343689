"""Authentication over real HTTP: tokens, lockout, admin users, mutual TLS."""

from __future__ import annotations

import ssl
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher

from hub.api.app import REFRESH_S
from hub.auth.models import ApiToken
from hub.auth.passwords import hash_password, verify_password
from hub.auth.service import create_user
from hub.settings import Settings
from hub.tls import MutualTLSProtocol
from tests.conftest import ADMIN, PARTNER, PASSWORD, HubServer, LiveHub, channel, hub_settings, write_config

ECHO = lambda upstream: channel("echo", r"/echo", upstream)  # noqa: E731


def test_password_hashes_are_argon2_and_verify():
    hashed = hash_password("s3cret-pass")
    assert hashed.startswith("$argon2id$") and "s3cret-pass" not in hashed
    assert verify_password(hashed, "s3cret-pass") and not verify_password(hashed, "other")
    assert not verify_password(None, "s3cret-pass")


def test_bearer_token_shown_once_works_and_is_revocable(make_hub, upstream):
    hub = make_hub({"channels": [ECHO(upstream)]})
    with hub.admin() as admin:
        assert (
            admin.post(
                "/admin/clients", json={"client_id": "app", "name": "App", "roles": ["partner"]}
            ).status_code
            == 201
        )
        created = admin.post("/admin/clients/app/tokens", json={"name": "ci"}).json()
        listed = admin.get("/admin/clients/app/tokens").json()
    token = created["token"]
    assert token.startswith("hub_") and "token" not in listed[0], "the token is shown once only"
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(hub.url + "/echo", headers=bearer).status_code == 200
    with hub.admin() as admin:
        assert admin.delete(f"/admin/clients/app/tokens/{created['id']}").status_code == 204
    assert httpx.get(hub.url + "/echo", headers=bearer).status_code == 401


def test_a_change_made_elsewhere_reaches_a_running_hub(make_hub, upstream, hub_cli, monkeypatch):
    """A token revoked through another replica, a password changed with ``hub user set``: this hub
    had both in its cache (for a minute) and refuses them at its next refresh."""
    hub = make_hub({"channels": [ECHO(upstream)]}, instance_name="replica-a")
    other = make_hub(instance_name="replica-b")
    with other.admin() as admin:
        admin.post("/admin/clients", json={"client_id": "app", "name": "App", "roles": ["partner"]})
        created = admin.post("/admin/clients/app/tokens", json={"name": "ci"}).json()
    bearer = {"Authorization": f"Bearer {created['token']}"}
    token_works = lambda: httpx.get(hub.url + "/echo", headers=bearer).status_code == 200  # noqa: E731
    password_works = lambda: httpx.get(hub.url + "/admin/clients", auth=ADMIN).status_code == 200  # noqa: E731
    assert token_works() and password_works()  # both cached now

    with other.admin() as admin:
        assert admin.delete(f"/admin/clients/app/tokens/{created['id']}").status_code == 204
    monkeypatch.setenv("NEW_ADMIN_PASSWORD", "a-new-password-1")
    hub_cli("user", "set", ADMIN[0], "--password-env", "NEW_ADMIN_PASSWORD")
    deadline = time.monotonic() + 2 * REFRESH_S + 1
    while token_works() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not token_works() and not password_works(), "refused well within the cache's TTL"
    assert httpx.get(hub.url + "/admin/clients", auth=(ADMIN[0], "a-new-password-1")).status_code == 200


def test_expired_token_is_refused(make_hub, upstream):
    hub = make_hub({"channels": [ECHO(upstream)]})
    with hub.admin() as admin:
        admin.post("/admin/clients", json={"client_id": "app", "name": "App", "roles": ["partner"]})
        created = admin.post(
            "/admin/clients/app/tokens", json={"name": "old", "expires_at": "2999-01-01T00:00:00Z"}
        ).json()
    with hub.runtime.db.session() as session:  # the API refuses a past expiry: let this one lapse
        session.get(ApiToken, created["id"]).expires_at = datetime(2020, 1, 1, tzinfo=UTC)
    r = httpx.get(hub.url + "/echo", headers={"Authorization": f"Bearer {created['token']}"})
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_repeated_failures_lock_the_client_out(make_hub, upstream, monkeypatch):
    monkeypatch.setenv("P_PASS", "right-password")
    hub = make_hub(
        {
            "clients": [{"client_id": "c1", "name": "C1", "roles": ["partner"], "password_env": "P_PASS"}],
            "channels": [ECHO(upstream)],
        },
        auth_max_failures=3,
        auth_lockout_s=60,
    )
    for _ in range(3):
        assert httpx.get(hub.url + "/echo", auth=("c1", "wrong")).status_code == 401
    locked = httpx.get(hub.url + "/echo", auth=("c1", "right-password"))
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert locked.headers["content-type"] == "application/problem+json"


def test_success_resets_the_failure_count(make_hub, upstream, monkeypatch):
    monkeypatch.setenv("P_PASS", "right-password")
    hub = make_hub(
        {
            "clients": [{"client_id": "c1", "name": "C1", "roles": ["partner"], "password_env": "P_PASS"}],
            "channels": [ECHO(upstream)],
        },
        auth_max_failures=3,
        auth_lockout_s=60,
        auth_cache_ttl_s=0,
    )
    for _ in range(2):
        httpx.get(hub.url + "/echo", auth=("c1", "wrong"))
    assert httpx.get(hub.url + "/echo", auth=("c1", "right-password")).status_code == 200
    for _ in range(2):
        httpx.get(hub.url + "/echo", auth=("c1", "wrong"))
    assert httpx.get(hub.url + "/echo", auth=("c1", "right-password")).status_code == 200


def test_admin_api_needs_an_admin(make_hub, upstream, monkeypatch):
    monkeypatch.setenv("P_PASS", "right-password")
    hub = make_hub(
        {
            "clients": [{"client_id": "c1", "name": "C1", "roles": ["partner"], "password_env": "P_PASS"}],
            "channels": [ECHO(upstream)],
        }
    )
    assert httpx.get(hub.url + "/admin/clients").status_code == 401
    assert httpx.get(hub.url + "/admin/clients", auth=(ADMIN[0], "wrong")).status_code == 401
    # a channel client is not an admin-API user
    assert httpx.get(hub.url + "/admin/clients", auth=("c1", "right-password")).status_code == 401
    with hub.runtime.db.session() as session:
        create_user(session, email="viewer@hub.test", password="viewer-pass-1", groups=["viewer"])
    r = httpx.get(hub.url + "/admin/clients", auth=("viewer@hub.test", "viewer-pass-1"))
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    with hub.admin() as admin:
        c1 = admin.get("/admin/clients/c1").json()
    assert c1["has_password"] is True and "password_hash" not in c1


# -- mutual TLS ----------------------------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate signed by the CA."""
    d = tmp_path_factory.mktemp("pki")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=hub-test-ca",
        cwd=d,
    )
    for name, extra in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={name}",
            cwd=d,
        )
        (d / f"{name}.ext").write_text(extra + "\n")
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "2",
            "-extfile",
            f"{name}.ext",
            cwd=d,
        )
    return d


def _fingerprint(pem: Path) -> str:
    out = subprocess.run(
        ["openssl", "x509", "-in", str(pem), "-noout", "-fingerprint", "-sha256"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip().split("=", 1)[1]


def test_client_certificate_authenticates_over_mutual_tls(
    database_url, tmp_path, upstream, pki, partner_password
):
    config = write_config(
        tmp_path,
        {
            "clients": [
                {
                    "client_id": "lab",
                    "name": "Lab",
                    "roles": ["partner"],
                    "cert_fingerprint": _fingerprint(pki / "client.pem"),
                },
                PARTNER,
            ],
            "channels": [ECHO(upstream)],
        },
    )
    hub = LiveHub(hub_settings(database_url, config))
    hub.server = HubServer(
        uvicorn.Config(
            hub.app,
            host="127.0.0.1",
            port=hub.port,
            log_level="warning",
            ssl_certfile=str(pki / "server.pem"),
            ssl_keyfile=str(pki / "server.key"),
            ssl_ca_certs=str(pki / "ca.pem"),
            ssl_cert_reqs=ssl.CERT_OPTIONAL,
            http=MutualTLSProtocol,
        )
    )
    hub.thread = threading.Thread(target=hub.server.run, daemon=True)
    hub.start()
    try:
        base = f"https://127.0.0.1:{hub.port}/echo"
        verify = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        with_cert = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        with_cert.load_cert_chain(str(pki / "client.pem"), str(pki / "client.key"))
        assert httpx.get(base, verify=with_cert).status_code == 200
        assert httpx.get(base, verify=verify).status_code == 401
        # a certificate the CA signed but no client has: as in OpenHIM, other credentials are tried
        unknown = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        unknown.load_cert_chain(str(pki / "server.pem"), str(pki / "server.key"))
        assert httpx.get(base, verify=unknown, auth=("partner-1", PASSWORD)).status_code == 200
        assert httpx.get(base, verify=unknown, auth=("partner-1", "wrong-password")).status_code == 401
        refused = httpx.get(base, verify=unknown)
        assert refused.status_code == 401 and "not recognised" in refused.json()["detail"]
    finally:
        hub.stop()


def test_users_api_and_user_tokens(make_hub):
    hub = make_hub()
    with hub.admin() as admin:
        created = admin.post(
            "/admin/users", json={"email": "ops@hub.test", "password": "ops-password-1", "groups": ["admin"]}
        )
        assert created.status_code == 201 and "password" not in created.json()
        assert (
            admin.post(
                "/admin/users", json={"email": "ops@hub.test", "password": "ops-password-1"}
            ).status_code
            == 409
        )
        assert admin.post("/admin/users", json={"email": "x@y", "password": "short"}).status_code == 422
        token = admin.post("/admin/users/ops@hub.test/tokens", json={"name": "automation"}).json()["token"]
        assert admin.delete(f"/admin/users/{ADMIN[0]}").status_code == 409
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(hub.url + "/admin/users", headers=bearer).status_code == 200
    with hub.admin() as admin:
        assert admin.delete("/admin/users/ops@hub.test").status_code == 204
    assert httpx.get(hub.url + "/admin/users", headers=bearer).status_code == 401


def test_a_users_password_groups_and_legacy_token_auth_change(make_hub):
    hub = make_hub()
    ops = "/admin/users/ops@hub.test"
    with hub.admin() as admin:
        admin.post(
            "/admin/users", json={"email": "ops@hub.test", "password": "ops-password-1"}
        ).raise_for_status()
        changed = admin.patch(ops, json={"password": "ops-password-2", "groups": ["viewer"]})
        refused = admin.patch(ops, json={"legacy_token_auth": True})
        mine = admin.patch(f"/admin/users/{ADMIN[0]}", json={"groups": ["viewer"]})
        unknown = admin.patch("/admin/users/nobody@hub.test", json={"groups": []})
        extra = admin.patch(ops, json={"passwd": "ops-password-3"})
        legacy = admin.patch(ops, json={"password": "ops-password-3", "legacy_token_auth": True})
    assert changed.status_code == 200
    assert changed.json()["groups"] == ["viewer"] and changed.json()["legacy_token_auth"] is False
    assert refused.status_code == 400 and refused.headers["content-type"] == "application/problem+json"
    assert "needs the password" in refused.json()["detail"]
    assert mine.status_code == 409 and unknown.status_code == 404 and extra.status_code == 422
    assert legacy.status_code == 200 and legacy.json()["legacy_token_auth"] is True
    old = httpx.get(hub.url + "/admin/users", auth=("ops@hub.test", "ops-password-1"))
    new = httpx.get(hub.url + "/admin/users", auth=("ops@hub.test", "ops-password-3"))
    assert old.status_code == 401 and new.status_code == 403, "the new password; viewer is no admin"


def test_production_refuses_weak_password_hashing():
    defaults = {f: Settings.model_fields[f].default for f in ("argon2_time_cost", "argon2_memory_kib")}
    assert defaults == {"argon2_time_cost": 3, "argon2_memory_kib": 65536}
    production = {"env": "production", "secret_key": "a-real-secret-of-some-length"}
    assert Settings(**production, **defaults).argon2_memory_kib == 65536
    with pytest.raises(ValueError, match="OWASP"):
        Settings(**production, argon2_memory_kib=64, argon2_time_cost=1)


def test_hashes_keep_their_parameters():
    # the test profile (cheap) verifies a hash made with production's cost, and vice versa
    strong = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash("s3cret-pass")
    assert verify_password(strong, "s3cret-pass")
    assert "m=64,t=1,p=1" in hash_password("s3cret-pass")
