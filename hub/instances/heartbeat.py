"""The heartbeat of a ``hub serve`` process, and its take-over of orphaned work (``service``'s rule).

    start-up, before the first request:  beat ─▶ fail the work in flight of this instance's
                                          earlier incarnation, of no instance, of dead instances
    every ``instance_heartbeat_s``:      beat ─▶ fail the work in flight of dead instances,
                                          forget them

Failing is what start-up recovery always did: a transaction left in Processing becomes Failed
(its request is kept for a rerun), a rerun task item in flight becomes Failed (not sent again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from datetime import datetime

from anyio import to_thread
from sqlalchemy.orm import Session

from hub.db.base import utcnow
from hub.gateway import pipeline
from hub.instances import service
from hub.instances.service import Orphans
from hub.periodic import repeat, stop
from hub.runtime import Runtime
from hub.settings import INSTANCE_NAME_LENGTH, Settings
from hub.tasks import service as tasks
from hub.transactions import service as transactions

log = logging.getLogger("hub.instances")


def start(runtime: Runtime) -> None:
    """Before this process opens any transaction or claims any rerun (blocking)."""
    settings = runtime.settings
    with runtime.db.session() as session:
        service.beat(session, settings.instance_name, utcnow(), restart=True)
        taken = _take_over(session, Orphans.now(session, settings, at_start=True))
    _report(*taken)


def beat(runtime: Runtime, started_at: datetime | None) -> datetime:
    """One heartbeat and take-over (blocking), then the failing of this process's own requests its
    log writer left unconfirmed while the database was unreachable (``pipeline.fail_unconfirmed``).
    ``started_at``: this instance's start time as the last beat found it (None at the first);
    returns it as this beat found it."""
    settings = runtime.settings
    with runtime.db.session() as session:
        stored = service.beat(session, settings.instance_name, started_at or utcnow(), restart=False)
        taken = _take_over(session, Orphans.now(session, settings, at_start=False))
    unconfirmed = pipeline.fail_unconfirmed(runtime)
    if unconfirmed:
        log.warning(
            "transactions left unconfirmed by the log writer marked Failed", extra={"count": unconfirmed}
        )
    if started_at is not None and stored != started_at:
        log.error(
            "another hub process has started under this instance name: each takes over the other's "
            "work in flight when it starts; give each its own HUB_INSTANCE_NAME",
            extra={"instance": settings.instance_name},
        )
    _report(*taken)
    return stored


async def run_periodically(runtime: Runtime) -> None:
    """Beat every ``instance_heartbeat_s``; :func:`start` made the first beat."""
    started_at: datetime | None = None

    def once() -> None:
        nonlocal started_at
        started_at = beat(runtime, started_at)

    await repeat(once, runtime.settings.instance_heartbeat_s, log=log, what="instance heartbeat", now=False)


def for_command(settings: Settings) -> Settings:
    """``settings`` for a command that does work a ``hub serve`` would otherwise do (the CLI's
    reruns): an instance name of its own, so that no ``hub serve`` of this host takes its work in
    flight for its own crashed incarnation's."""
    name = f"cli-{os.getpid()}@{settings.instance_name}"[:INSTANCE_NAME_LENGTH]
    return settings.model_copy(update={"instance_name": name})


@contextlib.asynccontextmanager
async def beating(runtime: Runtime) -> AsyncIterator[None]:
    """While a command has work in flight, its instance beats like a ``hub serve`` (so no replica
    takes that work over), and it is forgotten at the end. It takes nothing over itself."""
    name, started = runtime.settings.instance_name, utcnow()

    def once() -> None:
        with runtime.db.session() as session:
            service.beat(session, name, started, restart=False)

    await to_thread.run_sync(once)
    interval = runtime.settings.instance_heartbeat_s
    beats = asyncio.create_task(repeat(once, interval, log=log, what="instance heartbeat", now=False))
    try:
        yield
    finally:
        await stop(beats)

        def forget() -> None:
            with runtime.db.session() as session:
                service.forget(session, name)

        await to_thread.run_sync(forget)


def _take_over(session: Session, orphans: Orphans) -> tuple[int, int]:
    """Fail the orphaned work in flight and forget the dead instances; how many transactions and
    rerun task items were failed."""
    failed = transactions.recover_processing(session, orphans), tasks.recover_in_flight(session, orphans)
    service.forget_dead(session, orphans.dead_before)
    return failed


def _report(recovered: int, interrupted: int) -> None:
    if recovered:
        log.warning(
            "transactions left in Processing by a stopped hub process marked Failed",
            extra={"count": recovered},
        )
    if interrupted:
        log.warning(
            "rerun task items in flight at a stopped hub process marked Failed", extra={"count": interrupted}
        )
