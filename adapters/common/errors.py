"""The one error every adapter raises, whatever the external system or the transport library."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Statuses that say "try again later" rather than "your request is wrong".
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})

_SECRET_PARAMS = ("password", "token", "secret", "key", "auth")


def safe_url(url: str) -> str:
    """``url`` without user info and with secret-looking query values masked, fit for logs and errors."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    query = urlencode(
        [
            (name, "***" if any(word in name.lower() for word in _SECRET_PARAMS) else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe=":,/*",
    )
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


class AdapterError(Exception):
    """A call to an external system failed: transport error, or a reply the adapter does not accept.

    It carries what an operator needs and nothing secret: the ``system`` name, the HTTP
    ``method``, the ``url`` (without credentials), the final ``status`` (``None`` when no
    response arrived), an excerpt of the response body (known secrets masked) and the
    ``elapsed`` seconds over all attempts. The transport exception, if any, is chained as
    ``__cause__``. ``transient`` tells a caller such as the outbox whether trying again later
    may succeed.

    Example::

        try:
            client.get("dataElements")
        except AdapterError as exc:
            print(exc)
            # dhis2 GET https://dhis.example.org/api/dataElements failed: 503 Service
            # Unavailable after 3.52s: <html>maintenance</html>
            retry_later = exc.transient
    """

    def __init__(
        self,
        system: str,
        method: str,
        url: str,
        status: int | None = None,
        body_excerpt: str = "",
        elapsed: float = 0.0,
        *,
        reason: str = "",
    ) -> None:
        self.system = system
        self.method = method.upper()
        self.url = safe_url(url)
        self.status = status
        self.body_excerpt = body_excerpt
        self.elapsed = elapsed
        self.reason = reason
        super().__init__(self._describe())

    @property
    def transient(self) -> bool:
        """True when the failure may go away on its own (no response, 429, 502, 503, 504)."""
        return self.status is None or self.status in TRANSIENT_STATUSES

    def _describe(self) -> str:
        what = self.reason or (f"HTTP {self.status}" if self.status is not None else "no response")
        text = f"{self.system} {self.method} {self.url} failed: {what} after {self.elapsed:.2f}s"
        return f"{text}: {self.body_excerpt}" if self.body_excerpt else text


class BaseUrlEscape(AdapterError):
    """A path or URL (ours or one the remote system sent back) points outside the configured base URL."""
