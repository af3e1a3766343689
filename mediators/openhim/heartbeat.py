"""A heartbeat on a background thread, handing config changes to a callback (``activateHeartbeat``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from mediators.openhim.api import Auth, OpenHIMError, Verify, send_heartbeat

log = logging.getLogger("mediators.openhim")

ConfigCallback = Callable[[dict[str, Any]], None]
ErrorCallback = Callable[[OpenHIMError], None]


def _log_failure(exc: OpenHIMError) -> None:
    log.warning("heartbeat failed: %s", exc)


class Heartbeat:
    """Beats now and then every ``interval_s`` until :meth:`stop`; a failed beat is reported, not fatal."""

    def __init__(
        self,
        api_url: str,
        auth: Auth,
        urn: str,
        *,
        on_config: ConfigCallback,
        on_error: ErrorCallback | None = None,
        interval_s: float = 10.0,
        verify: Verify = True,
    ) -> None:
        self.api_url = api_url
        self.auth = auth
        self.urn = urn
        self.on_config = on_config
        self.on_error = on_error
        self.interval_s = interval_s
        self.verify = verify
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {urn}", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self, timeout_s: float | None = 10.0) -> None:
        """Stop beating; waits for a beat in flight to finish."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def beat(self) -> None:
        """Send one heartbeat and hand any config it returns to ``on_config``."""
        config = send_heartbeat(self.api_url, self.auth, self.urn, verify=self.verify)
        if config is not None:
            self.on_config(config)

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                try:
                    self.beat()
                except OpenHIMError as exc:
                    (self.on_error or _log_failure)(exc)
            except Exception:
                # A broken callback must not silence the heartbeat: core would mark the mediator down.
                log.exception("heartbeat callback failed")
            self._stopped.wait(self.interval_s)

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def activate_heartbeat(
    api_url: str,
    auth: Auth,
    urn: str,
    *,
    on_config: ConfigCallback,
    on_error: ErrorCallback | None = None,
    interval_s: float = 10.0,
    verify: Verify = True,
) -> Heartbeat:
    """Start heartbeats for ``urn``; call ``.stop()`` on the result to end them."""
    return Heartbeat(
        api_url, auth, urn, on_config=on_config, on_error=on_error, interval_s=interval_s, verify=verify
    ).start()
