"""OpenHIM's legacy token auth for the admin API.

``GET /authenticate/:user`` hands out the user's password salt and the server time;
the caller then sends ``auth-username``, ``auth-ts``, ``auth-salt`` (its own random
salt) and ``auth-token = sha512hex(sha512hex(passwordSalt + password) + auth-salt + auth-ts)``.
Only users created with ``legacy_token_auth`` keep the sha512 passhash this needs.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from hub.auth import passwords
from hub.auth.principal import Principal
from hub.auth.service import CHALLENGE, Authenticator, find_user, storable_name, user_key, user_principal
from hub.db.base import utcnow
from hub.errors import Unauthenticated

WINDOW = timedelta(seconds=10)


def challenge(session: Session, email: str, secret: bytes) -> dict[str, str]:
    """The salt to hash the password with; unknown users get a stable fake salt (no enumeration),
    the same in every case of the e-mail, as a known user's is."""
    user = find_user(session, email) if storable_name(email) else None
    salt = (
        user.legacy_salt
        if user and user.legacy_salt
        else hmac.new(secret, email.lower().encode(), hashlib.sha256).hexdigest()[:32]
    )
    return {"salt": salt, "ts": utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")}


def _parse_ts(ts: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def authenticate_headers(authenticator: Authenticator, headers: Mapping[str, str], address: str) -> Principal:
    """Check the four ``auth-*`` headers sent from ``address``; raise 401 when any is missing,
    stale or wrong."""
    email, ts, salt, token = (headers.get(f"auth-{k}", "") for k in ("username", "ts", "salt", "token"))
    if not (email and ts and salt and token):
        raise Unauthenticated(
            "legacy token auth needs auth-username, auth-ts, auth-salt and auth-token", headers=CHALLENGE
        )
    if not storable_name(email):
        raise Unauthenticated("invalid legacy auth token", headers=CHALLENGE)
    when = _parse_ts(ts)
    if when is None or abs(utcnow() - when) > WINDOW:
        raise Unauthenticated(
            "auth-ts is missing, malformed or outside the allowed window", headers=CHALLENGE
        )

    def check(session: Session) -> Principal | None:
        user = find_user(session, email)
        if user is None or not user.legacy_passhash:
            return None
        expected = passwords.sha512_hex(user.legacy_passhash + salt + ts)
        return user_principal(user, "legacy-token") if passwords.equal(expected, token) else None

    return authenticator.verified(
        user_key(email), address, check, Unauthenticated("invalid legacy auth token", headers=CHALLENGE)
    )
