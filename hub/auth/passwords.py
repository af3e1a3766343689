"""Password and token hashing: argon2id for passwords (bcrypt hashes verified too), SHA-256 for random
API tokens."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Iterable
from functools import lru_cache

import bcrypt
from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

from hub.settings import get_settings

# $2a$/$2b$/$2y$, a cost of 4 to 31, a 22-character salt (its last character holds 2 bits) and the hash
BCRYPT_HASH = re.compile(r"\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{21}[.Oeu][./A-Za-z0-9]{31}")
BCRYPT_MAX_BYTES = 72  # bcrypt reads no further: other systems' hashes were made of these bytes


@lru_cache
def _hasher() -> tuple[PasswordHasher, str]:
    """The argon2id hasher with the configured cost, and a dummy hash made with it.

    The dummy is verified against when the principal does not exist, so a miss costs what
    a hit costs. Hashes keep their own parameters, so changing the cost never breaks them.
    """
    settings = get_settings()
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    return hasher, hasher.hash(secrets.token_urlsafe(16))


TOKEN_PREFIX = "hub_"  # noqa: S105 - a label, not a secret


def hash_password(password: str) -> str:
    return _hasher()[0].hash(password)


def is_password_hash(value: str) -> bool:
    """Whether :func:`verify_password` can check a password against ``value``: argon2 or bcrypt."""
    if BCRYPT_HASH.fullmatch(value):
        return True
    try:
        extract_parameters(value)
    except InvalidHashError:
        return False
    return True


def _kind(password_hash: str) -> str:
    """What a verification against ``password_hash`` costs depends on: its algorithm and parameters
    (``$2b$12$``, ``$argon2id$v=19$m=65536,t=3,p=4``), which precede its salt."""
    if BCRYPT_HASH.fullmatch(password_hash):
        return password_hash[:7]
    return password_hash.rsplit("$", 2)[0]


class _Floor:
    """The time every verification is made to last: the usual cost of the costliest kind of hash
    verified so far (the fastest run of each kind: load only ever adds to it). A miss is verified
    against the configured argon2 dummy, and a client's bcrypt hash (or an argon2 one of other
    parameters) costs another time: padded to the floor, neither a name's existence nor its hash's
    kind shows in how long a wrong password takes. :func:`calibrate` sets it before any request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._costs: dict[str, float] = {}

    def known(self, kind: str) -> bool:
        return kind in self._costs

    def observed(self, kind: str, seconds: float) -> None:
        with self._lock:
            self._costs[kind] = min(seconds, self._costs.get(kind, seconds))

    def pad(self, started: float) -> None:
        """Sleep until the floor has gone by since ``started`` (the thread's, never the event loop's)."""
        with self._lock:  # another thread may be adding a kind
            floor = max(self._costs.values(), default=0.0)
        rest = floor - (time.perf_counter() - started)
        if rest > 0:
            time.sleep(rest)


_FLOOR = _Floor()


def _verified(password_hash: str, password: str) -> bool:
    if BCRYPT_HASH.fullmatch(password_hash):
        return bcrypt.checkpw(password.encode()[:BCRYPT_MAX_BYTES], password_hash.encode())
    try:
        return _hasher()[0].verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-time check; a missing hash still spends one verification (of the dummy), and every
    verification lasts at least the floor (:class:`_Floor`). bcrypt hashes (a YAML client's, made by
    another system) are verified as they are; the hub makes argon2 ones."""
    checked = password_hash or _hasher()[1]
    started = time.perf_counter()
    ok = _verified(checked, password) and password_hash is not None
    _FLOOR.observed(_kind(checked), time.perf_counter() - started)
    _FLOOR.pad(started)
    return ok


def calibrate(password_hashes: Iterable[str | None]) -> None:
    """Time one verification of each kind of hash among ``password_hashes`` (and of the dummy) not
    timed yet, so that the floor holds from the first request: blocking, at start-up."""
    for password_hash in (_hasher()[1], *password_hashes):
        if password_hash and is_password_hash(password_hash) and not _FLOOR.known(_kind(password_hash)):
            verify_password(password_hash, secrets.token_urlsafe(16))


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sha512_hex(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest()


def equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
