"""Retention: cull bodies after ``body_cull_after_days``, purge rows after ``purge_after_days``.

Both steps cover the transaction log and the outbox's settled deliveries (delivered, failed, dead);
a pending or in-flight delivery is still owed and keeps its body and its row whatever its age.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

from anyio import to_thread
from sqlalchemy.orm import Session

from hub.outbox import service as outbox
from hub.runtime import Runtime
from hub.settings import Settings
from hub.transactions import service as transactions

log = logging.getLogger("hub.retention")

INTERVAL_S = 3600.0


@dataclass(frozen=True, slots=True)
class Retained:
    """What one run removed."""

    bodies_culled: int = 0
    transactions_purged: int = 0
    delivery_bodies_culled: int = 0
    deliveries_purged: int = 0


def apply(session: Session, settings: Settings, *, now: datetime | None = None) -> Retained:
    """Cull and purge for the configured ages; ``None`` ages switch a step off."""
    retained = Retained()
    if settings.body_cull_after_days is not None:
        age = timedelta(days=settings.body_cull_after_days)
        retained = replace(
            retained,
            bodies_culled=transactions.cull_bodies(session, older_than=age, now=now),
            delivery_bodies_culled=outbox.cull_bodies(session, older_than=age, now=now),
        )
    if settings.purge_after_days is not None:
        age = timedelta(days=settings.purge_after_days)
        # deliveries first: a purged transaction would otherwise update each of them (ON DELETE SET NULL)
        deliveries_purged = outbox.purge(session, older_than=age, now=now)
        retained = replace(
            retained,
            deliveries_purged=deliveries_purged,
            transactions_purged=transactions.purge(session, older_than=age, now=now),
        )
    return retained


def _run(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        retained = apply(session, runtime.settings)
    if any(asdict(retained).values()):
        log.info("retention applied", extra=asdict(retained))


async def run_periodically(runtime: Runtime) -> None:
    """Apply retention now and then every hour."""
    while True:
        try:
            await to_thread.run_sync(_run, runtime)
        except Exception:
            log.exception("retention run failed; will retry next interval")
        await asyncio.sleep(INTERVAL_S)
