"""OpenHIM's legacy token auth for the admin API.

``GET /authenticate/:user`` hands out the user's password salt and the server time;
the caller then sends ``auth-username``, ``auth-ts``, ``auth-salt`` (its own random
salt) and ``auth-token = sha512hex(sha512hex(passwordSalt + password) + auth-salt + auth-ts)``.
Only users created with ``legacy_token_auth`` keep the sha512 passhash this needs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

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


# JavaScript's Date.prototype.toString(): "Sun Nov 22 2026 01:13:06 GMT+0000 (Coordinated Universal Time)",
# what openhim-mediator-utils 0.2.2/0.2.3 and OpenHIM's own docs sample send as auth-ts
_DATE_STRING = re.compile(
    r"[A-Za-z]{3},? +([A-Za-z]{3}) +(\d{1,2}) +(\d{4}) +(\d{1,2}):(\d{2}):(\d{2})"
    r" *(?:GMT|UTC)?([+-]\d{4})?(?: *\(.*\))?"
)
_US_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S")  # .NET's DateTime.ToString() in en-US


def parse_js_date(text: str) -> datetime | None:
    """The moment ``text`` names, read as JavaScript's ``Date.parse`` (what OpenHIM core checks
    ``auth-ts`` with) reads the forms mediators send: ISO 8601 (``toISOString()``, also with a
    space and without a zone, as Python's ``str(datetime.utcnow())``), ``toString()``, RFC 1123
    (``toUTCString()``) and en-US ``M/D/YYYY h:mm:ss AM``. A time without a zone is UTC, as on
    the servers OpenHIM runs on. None when it is none of these."""
    text = text.strip()
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = _date_string(text) or _rfc1123(text) or _us_date(text)
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date_string(text: str) -> datetime | None:
    match = _DATE_STRING.fullmatch(text)
    if match is None:
        return None
    month, day, year, hour, minute, second, offset = match.groups()
    try:
        return datetime.strptime(
            f"{year} {month} {day} {hour}:{minute}:{second} {offset or '+0000'}", "%Y %b %d %H:%M:%S %z"
        )
    except ValueError:
        return None


def _rfc1123(text: str) -> datetime | None:
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _us_date(text: str) -> datetime | None:
    for form in _US_FORMATS:
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    return None


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
    when = parse_js_date(ts)
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
