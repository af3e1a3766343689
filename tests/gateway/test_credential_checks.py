"""Authenticator.checked: cached principals stay on the event loop, concurrent checks are shared."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from hub.auth.cache import CredentialCache
from hub.auth.principal import Principal
from hub.auth.service import Authenticator, LockoutPolicy
from hub.errors import Unauthenticated

PRINCIPAL = Principal("client", 1, "partner-1", frozenset({"partner"}))


def authenticator() -> Any:
    # checked() needs only the cache: no database is touched when the check itself is given
    return Authenticator(db=None, cache=CredentialCache(b"k" * 32, 60), policy=LockoutPolicy())  # type: ignore[arg-type]


def concurrently(rt: Any, check: Any, n: int) -> list[Any]:
    async def main() -> list[Any]:
        checks = (rt.checked("basic-client", "cGFydG5lci0xOnB3", check) for _ in range(n))
        return await asyncio.gather(*checks, return_exceptions=True)

    return asyncio.run(main())


def test_concurrent_requests_with_one_credential_share_its_check() -> None:
    calls: list[str] = []

    def check(credential: str) -> Principal:
        calls.append(credential)
        time.sleep(0.2)  # an argon2 verification
        return PRINCIPAL

    rt = authenticator()
    results = concurrently(rt, check, 10)

    assert len(calls) == 1
    assert all(r is PRINCIPAL for r in results)
    assert rt.verifying == {}


def test_a_failed_check_is_not_shared_so_each_attempt_counts() -> None:
    calls: list[str] = []

    def check(credential: str) -> Principal:
        calls.append(credential)
        time.sleep(0.1)
        raise Unauthenticated("invalid credentials")

    rt = authenticator()
    results = concurrently(rt, check, 5)

    assert len(calls) == 5, "every failed attempt reaches the lockout counter"
    assert all(isinstance(r, Unauthenticated) for r in results)


def test_a_cached_principal_needs_no_check() -> None:
    rt = authenticator()
    rt.cache.put("basic-client", "cGFydG5lci0xOnB3", PRINCIPAL, rt.cache.generation())

    def check(credential: str) -> Principal:
        raise AssertionError("a cached credential is not checked again")

    assert concurrently(rt, check, 3) == [PRINCIPAL] * 3
