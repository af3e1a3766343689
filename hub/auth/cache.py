"""A short-lived cache of verified credentials, so argon2 runs once per client per TTL, not per request.

Keys are HMAC-SHA256 of the credential under the hub's secret key: the cache never
holds a password. Any change to clients, users or tokens clears it in this process;
other processes see the change within the TTL.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time

from hub.auth.principal import Principal


class CredentialCache:
    def __init__(self, secret: bytes, ttl_s: float, max_entries: int = 10_000) -> None:
        self._secret = secret
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: dict[bytes, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def key(self, scheme: str, credential: str) -> bytes:
        """What the cache files ``credential`` under: an HMAC, never the credential itself."""
        return hmac.new(self._secret, f"{scheme}\0{credential}".encode(), hashlib.sha256).digest()

    def get(self, scheme: str, credential: str) -> Principal | None:
        hit = self._entries.get(self.key(scheme, credential))
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def put(self, scheme: str, credential: str, principal: Principal) -> None:
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[self.key(scheme, credential)] = (principal, time.monotonic() + self._ttl)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
