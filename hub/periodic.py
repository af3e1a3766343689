"""Blocking work a hub process repeats in the background: in a worker thread, every so often, a
failure logged and tried again at the next interval (never ending the loop); and the stop of
such a background task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from anyio import to_thread


async def repeat(
    work: Callable[[], Any], interval_s: float, *, log: logging.Logger, what: str, now: bool
) -> None:
    """Run ``work`` every ``interval_s`` seconds, first at once if ``now``; until cancelled."""
    if not now:
        await asyncio.sleep(interval_s)
    while True:
        try:
            await to_thread.run_sync(work)
        except Exception:
            log.exception(f"{what} failed; will retry next interval")
        await asyncio.sleep(interval_s)


async def stop(task: asyncio.Task[Any]) -> None:
    """Cancel a background task and wait until it has ended."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
