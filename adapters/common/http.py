"""The HTTP layer every adapter sends through.

One :class:`HttpClient` per external system: a ``requests.Session`` bound to a base URL, with
authentication, timeouts, retries of transient failures with exponential back-off, and a guard
that refuses any URL outside the base. Whatever goes wrong surfaces as
:class:`~adapters.common.errors.AdapterError`, never as a ``requests`` exception.
"""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from requests.auth import AuthBase
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

from adapters.common.errors import TRANSIENT_STATUSES, AdapterError, BaseUrlEscape

log = logging.getLogger("adapters.http")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# A server answering these has refused the request without acting on it, so even a POST is safe to repeat.
_REFUSED_STATUSES = frozenset({429, 503})
_DEFAULT_PORTS = {"http": 80, "https": 443}
EXCERPT_CHARS = 500


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry transient failures.

    ``attempts`` counts the first try. The n-th retry waits ``backoff * 2**(n-1)`` seconds, or
    what a ``Retry-After`` header asks for, never more than ``max_backoff``.

    Example::

        RetryPolicy(attempts=5, backoff=1.0)   # waits 1, 2, 4, 8 s between the five tries
    """

    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 60.0
    statuses: frozenset[int] = TRANSIENT_STATUSES

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        wanted = retry_after if retry_after is not None else self.backoff * 2 ** (retry - 1)
        return max(0.0, min(wanted, self.max_backoff))


class TokenAuth(AuthBase):
    """``Authorization: <scheme> <token>``: DHIS2's ``ApiToken``, OAuth ``Bearer`` and the like.

    Example::

        TokenAuth("ApiToken", "d2pat_…")
    """

    def __init__(self, scheme: str, token: str) -> None:
        self.scheme = scheme
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"{self.scheme} {self._token}"
        return request

    def __repr__(self) -> str:
        return f"TokenAuth({self.scheme!r}, '***')"


class HttpClient:
    """A ``requests.Session`` bound to one external system's base URL.

    Paths are joined to ``base_url`` (``"api/dataElements"`` and ``"/api/dataElements"`` both
    land under it); absolute URLs are accepted only when they stay under it, so a URL that
    the remote system sends back (a next-page link, a job location) cannot send credentials
    elsewhere. Idempotent methods are retried on every transient failure (connection errors,
    timeouts, 429, 502, 503, 504); other methods only when the request provably was not acted
    on (no connection made, 429, 503), unless the caller says the call is idempotent.

    ``secrets`` are masked in error excerpts; ``sleep`` is injectable for tests.

    Example::

        http = HttpClient("healthmap", "https://map.example.org", auth=TokenAuth("Bearer", token))
        response = http.send("GET", "/api/facilities", params={"page": 2})
        response = http.send("POST", "/api/facilities", json=doc, accept={409}, idempotent=True)
    """

    def __init__(
        self,
        system: str,
        base_url: str,
        *,
        auth: AuthBase | tuple[str, str] | None = None,
        timeout: float | tuple[float, float] = 30.0,
        verify: bool | str = True,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.system = system
        self.base_url = base_url.rstrip("/")
        base = urlsplit(self.base_url)
        if base.scheme not in _DEFAULT_PORTS or not base.hostname:
            raise ValueError(f"{system}: base URL must be http(s)://host[/path], got {base_url!r}")
        if base.username or base.password:
            raise ValueError(f"{system}: put credentials in the adapter config, not in the base URL")
        self._origin = _origin(base)
        self._base_path = _normalised_path(base.path)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._secrets = [s for s in secrets if s]
        self._sleep = sleep
        self.session = session or requests.Session()
        self.session.auth = auth
        self.session.verify = verify
        self.session.headers.update(headers or {})

    def url_for(self, path: str) -> str:
        """The absolute URL for ``path``; :class:`BaseUrlEscape` if it would leave the base URL."""
        absolute = "://" in path or path.startswith("//")
        url = path if absolute else f"{self.base_url}/{path.lstrip('/')}"
        parts = urlsplit(url)
        inside = self._base_path == "/" or (
            (p := _normalised_path(parts.path)) == self._base_path or p.startswith(self._base_path + "/")
        )
        try:
            same_origin = _origin(parts) == self._origin
        except ValueError:  # a port that is not a number
            same_origin = False
        if not (same_origin and inside):
            raise BaseUrlEscape(
                self.system, "-", url, reason=f"refused: outside the base URL {self.base_url}"
            )
        return url

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        accept: Collection[int] = (),
        idempotent: bool | None = None,
    ) -> requests.Response:
        """Send one request, retrying transient failures; return the response if its status is
        2xx or in ``accept``, else raise :class:`AdapterError`. Redirects are not followed.

        ``idempotent`` overrides the method's default (true for GET, HEAD, OPTIONS, PUT, DELETE)
        for calls such as upserting imports that are safe to repeat."""
        method = method.upper()
        url = self.url_for(path)
        shown = _with_query(url, params)
        repeatable = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        rewind = _rewinder(data)
        attempts = self.retry.attempts if rewind else 1
        started = time.monotonic()
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            if rewind:
                rewind()
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    headers=headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                elapsed = time.monotonic() - started
                if last or not (repeatable or _not_sent(exc)):
                    raise AdapterError(
                        self.system, method, shown, None, "", elapsed, reason=self._mask(_describe(exc))
                    ) from exc
                self._wait(method, url, attempt, self._mask(_describe(exc)), None)
                continue
            status = response.status_code
            retryable = status in self.retry.statuses and (repeatable or status in _REFUSED_STATUSES)
            if retryable and not last:
                self._wait(method, url, attempt, f"HTTP {status}", _retry_after(response))
                continue
            elapsed = time.monotonic() - started
            log.debug("%s %s %s -> %s in %.2fs", self.system, method, _log_url(url), status, elapsed)
            if 200 <= status < 300 or status in accept:
                return response
            # Redirects are not followed: they could lead outside the base URL, and a redirect
            # usually means the base URL is wrong (http -> https, a login page).
            reason = f"HTTP {status} to {response.headers.get('Location')}" if 300 <= status < 400 else ""
            raise AdapterError(
                self.system, method, shown, status, self.excerpt(response), elapsed, reason=reason
            )
        raise AssertionError("unreachable: the last attempt returns or raises")

    def error(self, response: requests.Response, reason: str) -> AdapterError:
        """An :class:`AdapterError` about a response the adapter could not use."""
        request = response.request
        return AdapterError(
            self.system,
            request.method or "-",
            request.url or "-",
            response.status_code,
            self.excerpt(response),
            response.elapsed.total_seconds(),
            reason=reason,
        )

    def excerpt(self, response: requests.Response) -> str:
        """The start of the body on one line, secrets masked (before cutting, so none is cut in half)."""
        text = response.content[: EXCERPT_CHARS * 4].decode(response.encoding or "utf-8", errors="replace")
        return " ".join(self._mask(text).split())[:EXCERPT_CHARS]

    def _mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _wait(self, method: str, url: str, attempt: int, why: str, retry_after: float | None) -> None:
        delay = self.retry.delay(attempt, retry_after)
        log.warning(
            "%s %s %s: %s, retry %d/%d in %.1fs",
            self.system,
            method,
            _log_url(url),
            why,
            attempt,
            self.retry.attempts - 1,
            delay,
        )
        self._sleep(delay)


def _origin(parts: Any) -> tuple[str, str, int]:
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


def _normalised_path(path: str) -> str:
    # Decode and fold backslashes first: servers do, so "%2e%2e" or "..\\" must not slip past the check.
    return posixpath.normpath("/" + unquote(path).replace("\\", "/").lstrip("/"))


def _with_query(url: str, params: Any) -> str:
    request = requests.PreparedRequest()
    request.prepare_url(url, params)
    return request.url or url


def _log_url(url: str) -> str:
    return urlsplit(url)._replace(query="", fragment="").geturl()


def _rewinder(data: Any) -> Callable[[], None] | None:
    """What to call before each attempt so the body can be sent again; ``None`` if it cannot
    (a generator or an unseekable stream is consumed by the first attempt)."""
    if data is None or isinstance(data, str | bytes | bytearray | Mapping | list | tuple):
        return lambda: None
    if hasattr(data, "seekable") and data.seekable():
        start = data.tell()
        return lambda: data.seek(start)
    return None


def _not_sent(exc: requests.RequestException) -> bool:
    """True when the request never reached the server (no connection made), so any method may be retried."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | NameResolutionError)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


def _describe(exc: requests.RequestException) -> str:
    return f"{type(exc).__name__}: {exc}"
