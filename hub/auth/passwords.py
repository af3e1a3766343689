"""Password and token hashing: argon2id for passwords (bcrypt hashes verified too), SHA-256 for random
API tokens."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
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


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-time check; a missing hash still spends one verification. bcrypt hashes (a YAML
    client's, made by another system) are verified as they are; the hub makes argon2 ones."""
    if password_hash is not None and BCRYPT_HASH.fullmatch(password_hash):
        return bcrypt.checkpw(password.encode()[:BCRYPT_MAX_BYTES], password_hash.encode())
    hasher, dummy = _hasher()
    try:
        return hasher.verify(password_hash or dummy, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sha512_hex(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest()


def equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
