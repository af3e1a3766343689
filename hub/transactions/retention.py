"""Retention: cull bodies after ``body_cull_after_days``, purge rows after ``purge_after_days``."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from anyio import to_thread
from sqlalchemy.orm import Session

from hub.runtime import Runtime
from hub.settings import Settings
from hub.transactions import service as transactions

log = logging.getLogger("hub.retention")

INTERVAL_S = 3600.0


def apply(session: Session, settings: Settings, *, now: datetime | None = None) -> tuple[int, int]:
    """(bodies culled, rows purged) for the configured ages; ``None`` ages switch a step off."""
    culled = purged = 0
    if settings.body_cull_after_days is not None:
        culled = transactions.cull_bodies(
            session, older_than=timedelta(days=settings.body_cull_after_days), now=now
        )
    if settings.purge_after_days is not None:
        purged = transactions.purge(session, older_than=timedelta(days=settings.purge_after_days), now=now)
    return culled, purged


def _run(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        culled, purged = apply(session, runtime.settings)
    if culled or purged:
        log.info("retention applied", extra={"bodies_culled": culled, "transactions_purged": purged})


async def run_periodically(runtime: Runtime) -> None:
    """Apply retention now and then every hour."""
    while True:
        try:
            await to_thread.run_sync(_run, runtime)
        except Exception:
            log.exception("retention run failed; will retry next interval")
        await asyncio.sleep(INTERVAL_S)
