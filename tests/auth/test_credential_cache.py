"""A change to credentials empties the credential cache when it commits, not before: in the
process that made it at once, in every other at its next refresh (the credential revision)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from hub.auth import service as auth
from hub.auth.cache import CredentialCache
from hub.auth.models import credential_revision
from hub.auth.principal import Principal
from hub.clients import service as clients
from hub.clients.schemas import ClientIn, ClientPatch
from hub.db.base import utcnow
from hub.db.session import Database
from hub.runtime import Runtime
from tests.conftest import hub_settings

PARTNER = Principal("client", 1, "partner-1", frozenset({"partner"}))


@pytest.fixture
def runtime(db: Database, database_url: str) -> Runtime:
    runtime = Runtime.create(hub_settings(database_url), db)
    cache = runtime.authenticator.cache
    cache.put("basic-client", "credential", PARTNER, cache.generation())
    return runtime


def cached(runtime: Runtime) -> Principal | None:
    return runtime.authenticator.cache.get("basic-client", "credential")


def test_the_cache_is_emptied_when_the_change_commits(runtime: Runtime, db: Database) -> None:
    with db.session() as session:
        runtime.credentials_changed(session)
        # a request verified now would still find the old row, and its entry is kept till the commit
        assert cached(runtime) == PARTNER
    assert cached(runtime) is None


def test_a_change_rolled_back_keeps_the_cache(runtime: Runtime, db: Database) -> None:
    with pytest.raises(RuntimeError), db.session() as session:
        runtime.credentials_changed(session)
        raise RuntimeError("the change failed")
    assert cached(runtime) == PARTNER
    with db.session():
        pass  # a later transaction on another session does not empty it either
    assert cached(runtime) == PARTNER


OPS = "ops@moh.example"


def new_user(db: Database) -> None:
    with db.session() as session:
        auth.create_user(session, email=OPS, password="pw-12345678", groups=[])


def revision(db: Database) -> int:
    with db.session() as session:
        return credential_revision(session)


def test_every_change_to_a_user_client_or_token_moves_the_revision(db: Database) -> None:
    steps = {
        "user added": lambda s: auth.create_user(s, email=OPS, password="pw-12345678", groups=[]),
        "password changed": lambda s: auth.update_user(s, auth.get_user(s, OPS), password="pw-2"),
        "client added": lambda s: clients.create(
            s, client_in=ClientIn(client_id="emr", name="EMR", roles=["r"])
        ),
        "client disabled": lambda s: clients.update(
            s, client=clients.get(s, "emr"), patch=ClientPatch(enabled=False)
        ),
        "token issued": lambda s: auth.issue_token(s, name="t", client=clients.get(s, "emr")),
        "token revoked": lambda s: auth.revoke_token(
            s, token_id=auth.tokens_of(s, client=clients.get(s, "emr"))[0].id, client=clients.get(s, "emr")
        ),
        "client deleted": lambda s: clients.delete(s, client=clients.get(s, "emr")),
    }
    for step, change in steps.items():
        before = revision(db)
        with db.session() as session:
            change(session)
        assert revision(db) == before + 1, step
    before = revision(db)
    with db.session() as session:  # a failed login changes no credential
        auth.record_failure(session, "user:ops@moh.example", "127.0.0.1", auth.LockoutPolicy())
        auth.list_users(session)
    with pytest.raises(RuntimeError), db.session() as session:
        auth.update_user(session, auth.get_user(session, OPS), password="pw-3")
        raise RuntimeError("rolled back")
    assert revision(db) == before, "neither a lockout row nor a change rolled back moves it"


def test_refresh_forgets_what_another_process_changed_and_keeps_the_cache_otherwise(
    runtime: Runtime, db: Database
) -> None:
    new_user(db)
    runtime.refresh()
    cache = runtime.authenticator.cache
    cache.put("basic-client", "credential", PARTNER, cache.generation())
    runtime.refresh()
    assert cached(runtime) == PARTNER, "nothing changed"
    with db.session() as session:  # another process: no credentials_changed() here
        auth.update_user(session, auth.get_user(session, OPS), password="another-password")
    assert cached(runtime) == PARTNER
    runtime.refresh()
    assert cached(runtime) is None


def test_a_credential_read_before_a_clear_is_not_cached() -> None:
    cache = CredentialCache(b"k" * 32, 60)
    read_at = cache.generation()
    cache.clear()  # the change the check may not have seen
    cache.put("bearer", "token", PARTNER, read_at)
    assert cache.get("bearer", "token") is None
    cache.put("bearer", "token", PARTNER, cache.generation())
    assert cache.get("bearer", "token") == PARTNER


def test_a_token_is_cached_no_longer_than_it_is_valid(db: Database, database_url: str) -> None:
    runtime = Runtime.create(hub_settings(database_url), db)
    new_user(db)
    with db.session() as session:
        token, _ = auth.issue_token(
            session,
            name="t",
            user=auth.get_user(session, OPS),
            expires_at=utcnow() + timedelta(seconds=1),
        )
    assert runtime.authenticator.bearer(token).name == OPS
    assert runtime.authenticator.cache.get("bearer", token) is not None
    time.sleep(1.05)
    assert runtime.authenticator.cache.get("bearer", token) is None, "not for the cache's 60 s"
