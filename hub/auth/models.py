"""Who may talk to the hub: admin users (admin API), clients (channels) and their API tokens."""

from __future__ import annotations

from datetime import datetime
from itertools import chain
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, event, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.db.base import Base, BigId, JSONType, UTCDateTime, utcnow


class User(Base):
    """An admin-API user (OpenHIM "user"); ``groups`` holds ``admin`` for full access."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    groups: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # OpenHIM's legacy token auth needs sha512(salt + password); kept only for users who opt in.
    legacy_salt: Mapped[str | None] = mapped_column(String(64))
    legacy_passhash: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def legacy_token_auth(self) -> bool:
        return self.legacy_passhash is not None


# e-mails match in any case (find_user): the database refuses a second in another case (0016)
Index("uq_users_email_lower", func.lower(User.email), unique=True)


class Client(Base):
    """A system that sends requests through channels (OpenHIM "client")."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    cert_fingerprint: Mapped[str | None] = mapped_column(String(128), unique=True)
    org_units: Mapped[list[str]] = mapped_column(JSONType, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(32), default="api")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    client_pk: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    user_pk: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuthLockout(Base):
    """Failed-login counter, shared by every hub process: per name (``client:<id>``, ``user:<e-mail>``)
    and per name and address (``client:<id>@<address>``)."""

    __tablename__ = "auth_lockouts"

    principal: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CredentialRevision(Base):
    """One row, counting the changes to users, clients and tokens. Every hub process reads it every
    few seconds (``Runtime.refresh``) and forgets its cached credentials when it moved, so a
    password changed or a token revoked by another process (a replica, ``hub user set``) stops
    working there within seconds, not at the cache's TTL."""

    __tablename__ = "credential_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, default=0)


def credential_revision(session: Session) -> int:
    return session.scalar(select(CredentialRevision.number)) or 0


def _count_credential_changes(session: Session, _context: Any, _instances: Any) -> None:
    """Before any flush that adds, changes or deletes a user, client or token: the revision moves
    in the same DB transaction, whichever code path made the change."""
    changed = chain(session.new, session.dirty, session.deleted)
    if any(isinstance(o, (User, Client, ApiToken)) for o in changed):
        session.execute(update(CredentialRevision).values(number=CredentialRevision.number + 1))


event.listen(Session, "before_flush", _count_credential_changes)
