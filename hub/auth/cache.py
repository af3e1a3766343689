"""A short-lived cache of verified credentials, so argon2 runs once per client per TTL, not per request.

Keys are HMAC-SHA256 of the credential under the hub's secret key: the cache never
holds a password. Any change to clients, users or tokens clears it: at once in the process that
made it, within seconds in every other (``Runtime.refresh``). A credential read from the
database before a clear is not cached after it (:meth:`CredentialCache.generation`).
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
        self._generation = 0  # clears so far
        self._lock = threading.Lock()

    def generation(self) -> int:
        """Taken before a credential is read from the database and given back to :meth:`put`: a
        check that read the database before a clear may have seen what the clear was for."""
        return self._generation

    def key(self, scheme: str, credential: str) -> bytes:
        """What the cache files ``credential`` under: an HMAC, never the credential itself."""
        return hmac.new(self._secret, f"{scheme}\0{credential}".encode(), hashlib.sha256).digest()

    def get(self, scheme: str, credential: str) -> Principal | None:
        hit = self._entries.get(self.key(scheme, credential))
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def put(
        self, scheme: str, credential: str, principal: Principal, generation: int, ttl_s: float | None = None
    ) -> None:
        """Cache a credential read at ``generation``, for the TTL or ``ttl_s`` if shorter (a token
        that expires sooner)."""
        ttl = self._ttl if ttl_s is None else min(ttl_s, self._ttl)
        with self._lock:
            if generation != self._generation or ttl <= 0:
                return
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[self.key(scheme, credential)] = (principal, time.monotonic() + ttl)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation += 1
