"""Authentication rules: Basic, bearer tokens, certificate fingerprints, lockout, bootstrap.

Every check answers either a :class:`Principal` or raises :class:`Unauthenticated`
(401) / :class:`TooManyRequests` (429, locked out) / :class:`Forbidden` (403, the right
credentials of a disabled client). Other authorisation (403) is the caller's: channels
check roles, the admin API checks the ``admin`` group.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from anyio import to_thread
from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.auth import passwords
from hub.auth.cache import CredentialCache
from hub.auth.models import ApiToken, AuthLockout, Client, User
from hub.auth.principal import Principal
from hub.db.base import utcnow
from hub.db.batches import in_batches
from hub.db.session import Database
from hub.errors import BadRequest, Conflict, Forbidden, NotFound, TooManyRequests, Unauthenticated

CHALLENGE = {"WWW-Authenticate": 'Basic realm="hub", Bearer'}
MAX_NAME = 255  # clients.client_id and users.email are VARCHAR(255)


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """Failures are counted per name and address, and per name from every address together.

    An address that fails ``max_failures`` times within ``lockout_s`` is locked out for that name
    for ``lockout_s``; the name's other callers are not, so nobody can lock a client out by
    guessing its password from elsewhere. A name that fails ``max_failures_per_name`` times, from
    however many addresses, is locked out everywhere: guesses spread over many addresses are
    capped too. A success clears its address's count, not the name's, which only expires.
    """

    max_failures: int = 5
    lockout_s: float = 300.0
    max_failures_per_name: int = 50


UNKNOWN_ADDRESS = "unknown"
MAX_ADDRESS = 64  # with MAX_NAME and the kind, within auth_lockouts.principal's 400 characters


def client_address(scope: Mapping[str, Any]) -> str:
    """The address a request came from, as lockout counts it: the ASGI server's peer, or the
    ``X-Forwarded-For`` of a proxy trusted by ``HUB_FORWARDED_ALLOW_IPS`` (uvicorn puts it
    there), normalised."""
    client = scope.get("client")
    host = client[0] if client else None
    if not host:
        return UNKNOWN_ADDRESS
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:  # a Unix socket's name, a test client's
        return host[:MAX_ADDRESS]


def _unauthenticated(detail: str = "invalid credentials") -> Unauthenticated:
    return Unauthenticated(detail, headers=CHALLENGE)


def parse_basic(header_value: str) -> tuple[str, str]:
    """Split a ``Basic`` credential into (username, password)."""
    try:
        raw = base64.b64decode(header_value, validate=True).decode("utf-8")
    except ValueError as exc:  # not base64 (or not ASCII, which b64decode refuses), or not UTF-8
        raise _unauthenticated("malformed Basic credentials") from exc
    user, sep, password = raw.partition(":")
    if not sep or not user:
        raise _unauthenticated("malformed Basic credentials")
    return user, password


def storable_name(name: str) -> bool:
    """Whether ``name`` could be a clientID or e-mail at all; other names are not looked up.

    PostgreSQL refuses NUL in text and a lockout key longer than its column, which would turn a
    bad credential into a 400 without a challenge (and no failure on record) instead of a 401.
    """
    return len(name) <= MAX_NAME and "\x00" not in name


def _disabled(client: Client) -> Forbidden:
    return Forbidden(f"client {client.client_id!r} is disabled")


def client_principal(client: Client, via: str) -> Principal:
    return Principal(
        "client", client.id, client.client_id, frozenset(client.roles), tuple(client.org_units), via
    )


def user_principal(user: User, via: str) -> Principal:
    return Principal("user", user.id, user.email, frozenset(user.groups), (), via)


def find_user(session: Session, email: str) -> User | None:
    """The user with this e-mail in any case, as OpenHIM matches e-mails; the exact one first,
    should older data hold two that differ only by case. The name is lowered as :func:`user_key`
    lowers it, not by the database, whose ``lower()`` folds some letters otherwise (PostgreSQL's
    makes ``İ`` an ``i``): every name that finds a user counts its failures under one key."""
    return session.scalar(
        select(User)
        .where(func.lower(User.email) == email.lower())
        .order_by((User.email == email).desc())
        .limit(1)
    )


def user_key(email: str) -> str:
    """A user's lockout key, the same for every case of the e-mail, so a variant cannot slip past
    a lockout (cut to MAX_NAME: a few characters grow when lowered)."""
    return f"user:{email.lower()[:MAX_NAME]}"


# -- lockout -----------------------------------------------------------------------------------------


def _from(name_key: str, address: str) -> str:
    """The lockout key of ``name_key`` (``client:<id>``, ``user:<e-mail>``) tried from ``address``."""
    return f"{name_key}@{address}"


def check_lockout(session: Session, name_key: str, address: str) -> bool:
    """Raise 429 while the name is locked out from ``address`` or from everywhere; else tell
    whether the name has failures on record from ``address``."""
    rows = [session.get(AuthLockout, key) for key in (_from(name_key, address), name_key)]
    now = utcnow()
    until = max((r.locked_until for r in rows if r is not None and r.locked_until is not None), default=None)
    if until is not None and until > now:
        retry = max(1, int((until - now).total_seconds()))
        raise TooManyRequests(
            "too many failed authentication attempts; try again later", headers={"Retry-After": str(retry)}
        )
    return rows[0] is not None


def _lockout_row(session: Session, principal_key: str) -> AuthLockout:
    """The key's counter, made if missing, and locked: concurrent failures (of several replicas)
    each count. A counter cleared meanwhile by a success is made again."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    locked = (
        select(AuthLockout)
        .where(AuthLockout.principal == principal_key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    while True:
        session.execute(
            insert(AuthLockout)
            .values(principal=principal_key, failures=0, last_failure_at=utcnow())
            .on_conflict_do_nothing(index_elements=[AuthLockout.principal])
        )
        row = session.scalars(locked).one_or_none()
        if row is not None:
            return row


def record_failure(session: Session, name_key: str, address: str, policy: LockoutPolicy) -> None:
    """Count one failure from ``address`` and one for the name; lock either when its count reaches
    its limit within the window. (Always the address's row first, then the name's: concurrent
    failures take their row locks in the same order.)"""
    now = utcnow()
    window = timedelta(seconds=policy.lockout_s)
    for key, limit in (
        (_from(name_key, address), policy.max_failures),
        (name_key, policy.max_failures_per_name),
    ):
        row = _lockout_row(session, key)
        if now - row.last_failure_at > window:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        if row.failures >= limit:
            row.locked_until = now + window
    session.flush()


class _Turns:
    """One password check at a time per name, in this process.

    Checked side by side, every guess sent at once would pass the lockout check before the
    first failure is on record, and the limit would cap nothing. In turn, each sees the
    failures of the one before it; a correct credential checked meanwhile is found in the cache.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._turns: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        with self._guard:
            lock, waiting = self._turns.get(name) or (threading.Lock(), 0)
            self._turns[name] = (lock, waiting + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, waiting = self._turns[name]
                if waiting == 1:
                    del self._turns[name]
                else:
                    self._turns[name] = (lock, waiting - 1)


def clear_failures(session: Session, name_key: str, address: str) -> None:
    """A success: forget the failures from ``address`` (the name's own count only expires)."""
    session.execute(delete(AuthLockout).where(AuthLockout.principal == _from(name_key, address)))


def purge_expired_lockouts(session: Session, *, window: timedelta, now: datetime | None = None) -> int:
    """Delete the counters that count no more: no failure within ``window`` and no lock in force
    (:func:`record_failure` would start them again from 0); how many went. Without it, callers
    trying names at random (each a row for the name and one for the name from their address)
    would grow ``auth_lockouts`` without end; with it, it holds what failed within about one
    retention interval."""
    now = now or utcnow()
    where = [
        AuthLockout.last_failure_at < now - window,
        # a lock made under a longer lockout_s than today's runs to its end
        or_(AuthLockout.locked_until.is_(None), AuthLockout.locked_until <= now),
    ]
    return in_batches(
        session, AuthLockout.principal, where, lambda chosen: delete(AuthLockout).where(chosen, *where)
    )


# -- authenticators ----------------------------------------------------------------------------------


class Authenticator:
    """Checks credentials in short DB transactions of its own, so a recorded failure survives the 401.

    Successes are remembered for the cache TTL, so argon2 runs once per client per TTL.
    """

    def __init__(self, db: Database, cache: CredentialCache, policy: LockoutPolicy) -> None:
        self.db = db
        self.cache = cache
        self.policy = policy
        self.verifying: dict[bytes, asyncio.Future[Principal]] = {}
        self._turns = _Turns()

    async def checked(self, scheme: str, credential: str, check: Callable[[str], Principal]) -> Principal:
        """A cached principal without leaving the event loop; otherwise the blocking ``check`` in a thread.

        ``scheme`` is the cache key ``check`` files its success under. Requests that arrive with
        the same credential while it is being checked wait for that check: when a busy client's
        cache entry expires, every request in flight would otherwise run its own argon2
        verification. A failed check is not shared: each request's attempt counts towards lockout.
        """
        cached = self.cache.get(scheme, credential)
        if cached is not None:
            return cached
        key = self.cache.key(scheme, credential)
        running = self.verifying.get(key)
        if running is not None:
            with contextlib.suppress(Exception):
                return await asyncio.shield(running)
            return await to_thread.run_sync(check, credential)
        running = asyncio.ensure_future(to_thread.run_sync(check, credential))
        self.verifying[key] = running
        try:
            return await asyncio.shield(running)
        finally:
            self.verifying.pop(key, None)

    async def certificate_client(
        self, scope: Mapping[str, Any], *, other_credentials: bool
    ) -> Principal | None:
        """The client whose TLS certificate the server verified (``hub.tls`` puts its fingerprint in
        the scope). None when no certificate came, or when it is no client's and the request
        carries other credentials: as OpenHIM does, those are tried then."""
        fingerprint = scope.get("extensions", {}).get("tls", {}).get("client_cert_fingerprint")
        if not fingerprint:
            return None
        try:
            return await self.checked("cert", normalise_fingerprint(fingerprint), self.certificate)
        except Unauthenticated:
            if other_credentials:
                return None
            raise

    def verified(
        self,
        key: str,
        address: str,
        check: Callable[[Session], Principal | None],
        fail: Unauthenticated | None = None,
    ) -> Principal:
        """Run a fast ``check`` of the name ``key`` from ``address`` under lockout rules: a
        ``None`` counts as a failure and raises 401."""
        with self._turns(key):  # one check of a name at a time, as in _password
            with self.db.session() as session:
                had_failures = check_lockout(session, key, address)
                principal = check(session)
            return self._settle(key, address, principal, had_failures, fail)

    def _settle(
        self,
        key: str,
        address: str,
        principal: Principal | None,
        had_failures: bool,
        fail: Unauthenticated | None = None,
    ) -> Principal:
        """Record the outcome: a failure always, a success only when it clears earlier failures."""
        if principal is None or had_failures:
            with self.db.session() as session:
                if principal is None:
                    record_failure(session, key, address, self.policy)
                else:
                    clear_failures(session, key, address)
        if principal is None:
            raise fail or _unauthenticated()
        return principal

    def _password(self, kind: str, credential: str, address: str) -> Principal:
        cached = self.cache.get(f"basic-{kind}", credential)
        if cached is not None:
            return cached
        name, password = parse_basic(credential)
        if not storable_name(name):
            passwords.verify_password(None, password)  # as long as for a name that exists
            raise _unauthenticated()
        key = user_key(name) if kind == "user" else f"client:{name}"
        with self._turns(key):
            cached = self.cache.get(f"basic-{kind}", credential)  # proved while this one waited
            if cached is not None:
                return cached
            disabled: Client | None = None
            generation = self.cache.generation()
            with self.db.session() as session:
                had_failures = check_lockout(session, key, address)
                if kind == "client":
                    client = session.scalar(select(Client).where(Client.client_id == name))
                    stored = client.password_hash if client else None
                    candidate = client_principal(client, "basic") if client else None
                    disabled = client if client and not client.enabled else None
                else:
                    user = find_user(session, name)
                    stored = user.password_hash if user else None
                    candidate = user_principal(user, "basic") if user else None
            # argon2 takes ~0.5 s by design: never while a DB transaction (on SQLite, the write lock) is open
            principal = candidate if passwords.verify_password(stored, password) else None
            principal = self._settle(key, address, principal, had_failures)
        if disabled is not None:  # the right password: refused, but not a failure
            raise _disabled(disabled)
        self.cache.put(f"basic-{kind}", credential, principal, generation)
        return principal

    def basic_client(self, credential: str, address: str) -> Principal:
        """A client by the ``Basic`` credential it sent from ``address`` (:func:`client_address`)."""
        return self._password("client", credential, address)

    def basic_user(self, credential: str, address: str) -> Principal:
        """An admin-API user by the ``Basic`` credential it sent from ``address``."""
        return self._password("user", credential, address)

    def bearer(self, token: str) -> Principal:
        """A token owned by a client or a user; expired or revoked tokens are refused."""
        cached = self.cache.get("bearer", token)
        if cached is not None:
            return cached
        generation = self.cache.generation()
        with self.db.session() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == passwords.hash_token(token)))
            now = utcnow()
            if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at <= now):
                raise _unauthenticated("invalid, expired or revoked token")
            principal: Principal | None = None
            if row.client_pk is not None:
                client = session.get(Client, row.client_pk)
                if client is not None and not client.enabled:
                    raise _disabled(client)
                principal = client_principal(client, "token") if client else None
            elif row.user_pk is not None:
                user = session.get(User, row.user_pk)
                principal = user_principal(user, "token") if user else None
        if principal is None:
            raise _unauthenticated("token owner is gone")
        expires_in = (row.expires_at - now).total_seconds() if row.expires_at else None
        self.cache.put("bearer", token, principal, generation, expires_in)
        return principal

    def certificate(self, fingerprint: str) -> Principal:
        """A client identified by its TLS certificate's SHA-256 fingerprint."""
        fingerprint = normalise_fingerprint(fingerprint)
        cached = self.cache.get("cert", fingerprint)
        if cached is not None:
            return cached
        generation = self.cache.generation()
        with self.db.session() as session:
            client = session.scalar(select(Client).where(Client.cert_fingerprint == fingerprint))
            if client is not None and not client.enabled:
                raise _disabled(client)
            principal = client_principal(client, "certificate") if client else None
        if principal is None:
            raise _unauthenticated("client certificate not recognised")
        self.cache.put("cert", fingerprint, principal, generation)
        return principal


def normalise_fingerprint(fingerprint: str) -> str:
    """``AB:CD:...``, ``ab cd ...`` or ``abcd...`` → lower-case hex without separators."""
    return "".join(fingerprint.replace(":", "").split()).lower()


def sha256_fingerprint(fingerprint: str) -> str:
    """The normalised fingerprint; ``ValueError`` unless it is a SHA-256 (64 hex digits).

    The hub compares against the SHA-256 of the certificate, so anything else (a SHA-1
    fingerprint as OpenHIM and many tools show, a typo) would be stored and never match.
    """
    normalised = normalise_fingerprint(fingerprint)
    if len(normalised) != 64 or any(c not in "0123456789abcdef" for c in normalised):
        raise ValueError(
            "cert_fingerprint must be the certificate's SHA-256 fingerprint: 64 hex digits, "
            "colons allowed (openssl x509 -noout -fingerprint -sha256)"
        )
    return normalised


# -- tokens and bootstrap ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _TokenOwner:
    """Exactly one client or one user: whom a token belongs to."""

    client_pk: int | None
    user_pk: int | None
    label: str

    @classmethod
    def of(cls, client: Client | None, user: User | None) -> _TokenOwner:
        if client is not None and user is None:
            return cls(client.id, None, f"client {client.client_id!r}")
        if user is not None and client is None:
            return cls(None, user.id, f"user {user.email!r}")
        raise BadRequest("a token belongs to exactly one client or one user")

    def tokens(self) -> Select[tuple[ApiToken]]:
        return select(ApiToken).where(ApiToken.client_pk == self.client_pk, ApiToken.user_pk == self.user_pk)


def issue_token(
    session: Session,
    *,
    name: str,
    client: Client | None = None,
    user: User | None = None,
    expires_at: datetime | None = None,
) -> tuple[str, ApiToken]:
    """Create a token; the plaintext is returned here and never again."""
    owner = _TokenOwner.of(client, user)
    if expires_at is not None and expires_at <= utcnow():
        raise BadRequest("expires_at must be in the future")
    plaintext = passwords.new_token()
    row = ApiToken(
        token_hash=passwords.hash_token(plaintext),
        prefix=plaintext[:10],
        name=name,
        client_pk=owner.client_pk,
        user_pk=owner.user_pk,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return plaintext, row


def tokens_of(session: Session, *, client: Client | None = None, user: User | None = None) -> list[ApiToken]:
    """A client's or a user's tokens, revoked and expired ones too, oldest first."""
    return list(session.scalars(_TokenOwner.of(client, user).tokens().order_by(ApiToken.id)))


def revoke_token(
    session: Session, *, token_id: int, client: Client | None = None, user: User | None = None
) -> ApiToken:
    """Revoke one of a client's or a user's tokens; revoking it again keeps the first time.

    The caller then calls ``Runtime.credentials_changed`` so that a cached token stops working at once
    in this process; other processes forget it within seconds (``CredentialRevision``).
    """
    owner = _TokenOwner.of(client, user)
    token = session.scalar(owner.tokens().where(ApiToken.id == token_id))
    if token is None:
        raise NotFound(f"{owner.label} has no token {token_id}")
    token.revoked_at = token.revoked_at or utcnow()
    session.flush()
    return token


def create_user(
    session: Session, *, email: str, password: str, groups: list[str], legacy_token_auth: bool = False
) -> User:
    """An admin-API user; ``legacy_token_auth`` also keeps OpenHIM's sha512 passhash."""
    existing = find_user(session, email)
    if existing is not None:  # also in another case: e-mails match whatever their case
        raise Conflict(f"user {existing.email!r} already exists")
    user = User(email=email, groups=groups)
    _set_password(user, password, legacy=legacy_token_auth)
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:  # added meanwhile, in this or another case (the index on lower(email))
        raise Conflict(f"user {email!r} already exists") from None
    return user


def _set_password(user: User, password: str, *, legacy: bool) -> None:
    """The password's argon2 hash; with ``legacy``, OpenHIM's sha512(salt + password) too."""
    user.password_hash = passwords.hash_password(password)
    user.legacy_salt = secrets.token_hex(16) if legacy else None
    user.legacy_passhash = passwords.sha512_hex(user.legacy_salt + password) if user.legacy_salt else None


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


def get_user(session: Session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise NotFound(f"user {email!r} does not exist")
    return user


def update_user(
    session: Session,
    user: User,
    *,
    password: str | None = None,
    groups: list[str] | None = None,
    legacy_token_auth: bool | None = None,
) -> User:
    """Change what is given: a new password (and, if the user keeps legacy token auth, its sha512
    passhash with a new salt), the groups, legacy token auth on (needs the password) or off."""
    legacy = user.legacy_token_auth if legacy_token_auth is None else legacy_token_auth
    if legacy and password is None and not user.legacy_token_auth:
        raise BadRequest("legacy token auth needs the password: its sha512 passhash is made from it")
    if password is not None:
        _set_password(user, password, legacy=legacy)
    elif not legacy:
        user.legacy_salt = user.legacy_passhash = None
    if groups is not None:
        user.groups = groups
    session.flush()
    return user


def stored_password_hashes(session: Session) -> set[str]:
    """Every password hash the clients and users have: what :func:`passwords.calibrate` times."""
    clients = select(Client.password_hash).where(Client.password_hash.is_not(None))
    users = select(User.password_hash).where(User.password_hash.is_not(None))
    return set(session.scalars(clients.union(users)))


def bootstrap_admin(
    session: Session, *, email: str | None, password: str | None, legacy_token_auth: bool = False
) -> User | None:
    """Create the first admin from the environment when no user exists yet; with
    ``legacy_token_auth`` it also keeps OpenHIM's sha512 passhash, as :func:`create_user` does."""
    if not email or not password or session.scalar(select(User.id).limit(1)) is not None:
        return None
    try:
        return create_user(
            session, email=email, password=password, groups=["admin"], legacy_token_auth=legacy_token_auth
        )
    except Conflict:  # another replica, starting at the same time, bootstrapped it
        return None
