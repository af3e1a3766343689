"""The calls a mediator makes to the OpenHIM core API (or the hub's copy of it), over ``requests``.

Like the npm package, these authenticate with HTTP Basic. TLS certificates are
verified unless ``verify=False`` (the npm package's ``trustSelfSigned``) or a CA
bundle path is given.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

Auth = tuple[str, str]
Verify = bool | str  # False, True, or the path of a CA bundle

_STARTED = time.monotonic()


class OpenHIMError(Exception):
    """A core API call got no answer, or an answer other than 2xx."""

    def __init__(self, method: str, url: str, status: int | None, body: str, elapsed_s: float) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        self.elapsed_s = elapsed_s
        answer = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"{method} {url}: {answer} after {elapsed_s:.2f}s: {body[:200]}")


def uptime() -> float:
    """Seconds since this process loaded the module: the ``uptime`` a heartbeat reports."""
    return time.monotonic() - _STARTED


def _call(
    method: str, url: str, auth: Auth, *, json: Any, verify: Verify, timeout_s: float
) -> requests.Response:
    started = time.monotonic()
    try:
        response = requests.request(method, url, auth=auth, json=json, verify=verify, timeout=timeout_s)
    except requests.RequestException as exc:
        raise OpenHIMError(method, url, None, str(exc), time.monotonic() - started) from exc
    if not response.ok:
        raise OpenHIMError(method, url, response.status_code, response.text[:500], time.monotonic() - started)
    return response


def _mediator_url(api_url: str, urn: str, action: str) -> str:
    return f"{api_url.rstrip('/')}/mediators/{quote(urn, safe=':')}/{action}"


def register_mediator(
    api_url: str,
    auth: Auth,
    mediator_config: Mapping[str, Any],
    *,
    verify: Verify = True,
    timeout_s: float = 10.0,
) -> None:
    """Register (or upgrade) the mediator described by ``mediator_config`` (OpenHIM's camelCase shape)."""
    _call(
        "POST",
        f"{api_url.rstrip('/')}/mediators",
        auth,
        json=dict(mediator_config),
        verify=verify,
        timeout_s=timeout_s,
    )


def send_heartbeat(
    api_url: str,
    auth: Auth,
    urn: str,
    *,
    force_config: bool = False,
    verify: Verify = True,
    timeout_s: float = 10.0,
) -> dict[str, Any] | None:
    """One heartbeat; returns the config when core sends it (changed, or ``force_config``), else None."""
    beat: dict[str, Any] = {"uptime": uptime()}
    if force_config:
        beat["config"] = True
    response = _call(
        "POST", _mediator_url(api_url, urn, "heartbeat"), auth, json=beat, verify=verify, timeout_s=timeout_s
    )
    # Core answers an empty body when nothing changed (old versions answered "OK").
    if not response.content.strip() or response.text == "OK":
        return None
    try:
        config = response.json()
    except ValueError as exc:
        raise OpenHIMError(
            "POST",
            response.url,
            response.status_code,
            f"not JSON: {response.text[:200]}",
            response.elapsed.total_seconds(),
        ) from exc
    return config if isinstance(config, dict) else None


def fetch_config(
    api_url: str, auth: Auth, urn: str, *, verify: Verify = True, timeout_s: float = 10.0
) -> dict[str, Any]:
    """The mediator's current config (a heartbeat that asks for it); ``{}`` when none is set."""
    return send_heartbeat(api_url, auth, urn, force_config=True, verify=verify, timeout_s=timeout_s) or {}
