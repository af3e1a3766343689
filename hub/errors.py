"""Domain errors, rendered at the edge by :mod:`hub.api.problems`.

HubError                      any error the hub reports to a caller
├── BadRequest                400 malformed input
│   └── Unstorable            400 a value the database refuses (NUL in text, a number past a column)
├── Unauthenticated           401 no or wrong credentials
├── Forbidden                 403 authenticated but not allowed
├── NotFound                  404
├── MethodNotAllowed          405
├── Conflict                  409 duplicate or stale state
├── PayloadTooLarge           413 body over the channel's size cap
├── UnsupportedMediaType      415 content type the channel does not accept
├── TooManyRequests           429 locked out after repeated auth failures
├── UpstreamError             502/504 the route's upstream failed
└── NotReady                  503 database unreachable or not migrated
"""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    status = 500
    title = "Internal error"

    def __init__(
        self, detail: str, *, extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers or {}


class BadRequest(HubError):
    status = 400
    title = "Bad request"


class Unstorable(BadRequest):
    title = "Invalid value"


class Unauthenticated(HubError):
    status = 401
    title = "Authentication required"


class Forbidden(HubError):
    status = 403
    title = "Forbidden"


class NotFound(HubError):
    status = 404
    title = "Not found"


class MethodNotAllowed(HubError):
    status = 405
    title = "Method not allowed"


class Conflict(HubError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(HubError):
    status = 413
    title = "Payload too large"


class UnsupportedMediaType(HubError):
    status = 415
    title = "Unsupported media type"


class TooManyRequests(HubError):
    status = 429
    title = "Too many requests"


class UpstreamError(HubError):
    status = 502
    title = "Upstream error"


class UpstreamTimeout(UpstreamError):
    status = 504
    title = "Upstream timeout"


class NotReady(HubError):
    status = 503
    title = "Service not ready"
