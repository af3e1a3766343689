"""Errors of the DHIS2 adapter beyond :class:`~adapters.common.errors.AdapterError` itself.

Exception
├── AdapterError              a call failed (adapters.common)
│   └── JobFailed             an asynchronous import ended without a report
│       └── JobTimeout        … or did not finish within ``job_timeout`` (transient)
└── Dhis2Error
    └── UnsupportedByVersion  the request cannot be made on this DHIS2 release
"""

from __future__ import annotations

from adapters.common.errors import AdapterError


class Dhis2Error(Exception):
    """A request this client refuses to send."""


class UnsupportedByVersion(Dhis2Error):
    """The request cannot be made on the server's release, e.g. the legacy tracker endpoints
    on 2.42, where DHIS2 removed them."""


class JobFailed(AdapterError):
    """An asynchronous import finished without a report; ``reason`` holds DHIS2's last notification."""

    @property
    def transient(self) -> bool:
        return False


class JobTimeout(JobFailed):
    """An asynchronous import did not finish within ``job_timeout``; it may still finish later."""

    @property
    def transient(self) -> bool:
        return True
