"""Runs rerun tasks inside ``hub serve``, where the channels and the transaction log writer are.

    claim a batch (Processing) ─▶ rerun its items side by side ─▶ record each outcome ─▶ settle

Each batch is claimed and its outcomes recorded in DB transactions of their own; the reruns
themselves go through the gateway's pipeline like any request, each a child transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from anyio import to_thread

from hub.gateway.rerun import Outcome, rerun_outcome
from hub.logs import log_fault
from hub.runtime import Runtime
from hub.tasks import service
from hub.tasks.service import Batch

log = logging.getLogger("hub.tasks")

UNRECORDED = "the hub could not record this rerun's outcome; the hub's log has the details"


async def run_batch(runtime: Runtime) -> bool:
    """Claim one batch and rerun it; whether there was one."""
    batch: Batch | None = await to_thread.run_sync(_claim, runtime)
    if batch is None:
        return False
    outcomes = await asyncio.gather(*(rerun_outcome(runtime, tid) for _, tid in batch.items))
    await _save(runtime, batch, outcomes)
    return True


async def _save(runtime: Runtime, batch: Batch, outcomes: Sequence[Outcome]) -> None:
    """Record the batch's outcomes and settle its task. The reruns happened, so their items must
    never stay Processing (holding their task, and every task after it, Processing) nor be rerun:
    should the database refuse the outcomes, each is recorded as Failed with ``UNRECORDED``, keeping
    its child and status; should that fail too (the database is unreachable), both are tried again
    every ``rerun_task_poll_s`` until one is recorded."""
    bare = [Outcome(o.child_id, o.status, UNRECORDED) for o in outcomes]
    while True:
        for recorded in (outcomes, bare):
            try:
                await to_thread.run_sync(_record, runtime, batch, recorded)
                return
            except Exception as exc:
                log_fault(log, "could not record a rerun batch's outcomes", exc, task_id=batch.task_id)
        await asyncio.sleep(runtime.settings.rerun_task_poll_s)


def _record(runtime: Runtime, batch: Batch, outcomes: Sequence[Outcome]) -> None:
    with runtime.db.session() as session:
        for (item_id, _), outcome in zip(batch.items, outcomes, strict=True):
            service.record(
                session, item_id, child_id=outcome.child_id, rerun_status=outcome.status, error=outcome.error
            )
        service.settle(session, batch.task_id)


def _claim(runtime: Runtime) -> Batch | None:
    with runtime.db.session() as session:
        return service.claim(session, instance=runtime.settings.instance_name)


async def run_periodically(runtime: Runtime) -> None:
    """Run batches while there are any; look again every ``rerun_task_poll_s``."""
    while True:
        try:
            while await run_batch(runtime):
                pass
        except Exception:
            log.exception("rerun task batch failed; will retry next interval")
        await asyncio.sleep(runtime.settings.rerun_task_poll_s)
