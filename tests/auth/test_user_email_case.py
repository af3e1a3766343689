"""One admin user per e-mail in any case, held by the database (migration 0016), not only by the
check before a create: two creates at once, or two replicas bootstrapping at once, make one user."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from alembic import command
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from hub.auth import service
from hub.auth.models import User
from hub.db.migrate import alembic_config
from hub.db.session import Database
from hub.errors import Conflict

PASSWORD = "a-long-enough-password"


def test_the_database_refuses_a_second_user_in_another_case(db: Database) -> None:
    with db.session() as session:
        service.create_user(session, email="ops@moh.example", password=PASSWORD, groups=["admin"])
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(User(email="OPS@moh.example", password_hash="x", groups=[]))
        session.flush()


def test_a_create_that_passed_the_check_before_another_committed_is_a_conflict(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As when another request added the variant after this one's check: a 409, and the rest of
    the DB transaction goes on."""
    with db.session() as session:
        service.create_user(session, email="ops@moh.example", password=PASSWORD, groups=["admin"])
    monkeypatch.setattr(service, "find_user", lambda session, email: None)
    with db.session() as session:
        with pytest.raises(Conflict):
            service.create_user(session, email="Ops@MOH.example", password=PASSWORD, groups=[])
        assert session.scalar(select(func.count(User.id))) == 1


def test_two_replicas_bootstrapping_at_once_make_one_admin(db: Database) -> None:
    """One replica's create is not committed yet when the other's runs; the other gives way."""
    results: list[User | None] = []
    with db.session() as first:
        service.bootstrap_admin(first, email="root@moh.example", password=PASSWORD)

        def other_replica() -> None:
            with db.session() as second:
                results.append(service.bootstrap_admin(second, email="ROOT@moh.example", password=PASSWORD))

        thread = threading.Thread(target=other_replica)
        thread.start()
        time.sleep(0.5)  # the other replica is now waiting for the first one's lock
        assert thread.is_alive()
    thread.join(30)
    assert results == [None]
    with db.session() as session:
        assert session.scalars(select(User.email)).all() == ["root@moh.example"]


def test_users_that_already_differ_only_by_case_stop_the_upgrade_with_their_e_mails(
    db: Database, database_url: str, hub_cli: Callable[..., str]
) -> None:
    """Until they are one: ``hub user remove`` works on the database the hub will not serve yet."""
    config = alembic_config(database_url)
    command.downgrade(config, "0015")
    with db.session() as session:
        for email in ("clerk@moh.example", "Clerk@moh.example", "other@moh.example"):
            session.add(User(email=email, password_hash="x", groups=[]))
    with pytest.raises(RuntimeError, match=r"differ only by case: \[.[Cc]lerk@moh.example.\]"):
        command.upgrade(config, "heads")
    assert "user Clerk@moh.example removed" in hub_cli("user", "remove", "Clerk@moh.example")
    with db.session() as session:
        assert sorted(session.scalars(select(User.email))) == ["clerk@moh.example", "other@moh.example"]
    command.upgrade(config, "heads")
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(User(email="CLERK@moh.example", password_hash="x", groups=[]))


def test_a_name_found_only_by_the_databases_own_case_folding_is_no_user(db: Database) -> None:
    """PostgreSQL's lower() makes "İ" an "i", Python's "i̇": were the database to fold the name,
    "admİn@…" would sign in as "admin@…" with its failures counted under another lockout key."""
    with db.session() as session:
        service.create_user(session, email="admin@moh.example", password=PASSWORD, groups=["admin"])
        assert service.find_user(session, "ADMIN@moh.example") is not None
        assert service.find_user(session, "adm\u0130n@moh.example") is None
