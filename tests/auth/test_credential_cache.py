"""A change to credentials empties the credential cache when it commits, not before."""

from __future__ import annotations

import pytest

from hub.auth.principal import Principal
from hub.db.session import Database
from hub.runtime import Runtime
from tests.conftest import hub_settings

PARTNER = Principal("client", 1, "partner-1", frozenset({"partner"}))


@pytest.fixture
def runtime(db: Database, database_url: str) -> Runtime:
    runtime = Runtime.create(hub_settings(database_url), db)
    runtime.authenticator.cache.put("basic-client", "credential", PARTNER)
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


def test_without_a_session_the_cache_is_emptied_at_once(runtime: Runtime) -> None:
    runtime.credentials_changed()
    assert cached(runtime) is None
