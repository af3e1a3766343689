"""Admin API for the transaction log: list with filters and cursor paging, detail, rerun."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query
from sqlalchemy import select

from hub.api.deps import AdminDep, RuntimeDep, SessionDep
from hub.api.fields import RowId, UtcTimestamp
from hub.api.paging import next_cursor
from hub.api.routing import JsonRoute
from hub.errors import BadRequest
from hub.gateway.rerun import rerun, rerun_outcome
from hub.transactions import service
from hub.transactions.models import Transaction
from hub.transactions.schemas import (
    RerunRequest,
    RerunResult,
    TransactionDetail,
    TransactionPage,
    TransactionSummary,
)

router = APIRouter(prefix="/transactions", tags=["transactions"], route_class=JsonRoute)


@router.get("", response_model=TransactionPage, summary="List transactions, newest first")
def list_transactions(
    _: AdminDep,
    session: SessionDep,
    status: str | None = None,
    channel: str | None = None,
    client_id: str | None = None,
    parent_id: RowId | None = None,
    since: UtcTimestamp | None = None,
    until: UtcTimestamp | None = None,
    before_id: Annotated[RowId | None, Query(description="cursor: the last id of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> TransactionPage:
    filters = service.Filters(status, channel, client_id, parent_id, since, until)
    rows = service.list_page(session, filters=filters, before_id=before_id, limit=limit)
    return TransactionPage(
        items=[TransactionSummary.model_validate(r) for r in rows],
        next_before_id=next_cursor(rows, limit),
    )


@router.get("/{transaction_id}", response_model=TransactionDetail, summary="One transaction in full")
def get_transaction(transaction_id: RowId, _: AdminDep, session: SessionDep) -> TransactionDetail:
    tx = service.get(session, transaction_id)
    children = list(
        session.scalars(select(Transaction.id).where(Transaction.parent_id == tx.id).order_by(Transaction.id))
    )
    return TransactionDetail.model_validate(
        {**TransactionDetail.model_validate(tx).model_dump(), "children": children}
    )


@router.post("/{transaction_id}/rerun", response_model=RerunResult, summary="Rerun one transaction")
async def rerun_one(transaction_id: RowId, _: AdminDep, runtime: RuntimeDep) -> RerunResult:
    result = await rerun(runtime, transaction_id)
    return RerunResult(
        parent_id=transaction_id, child_id=result.transaction_id, status=result.transaction_status
    )


@router.post(
    "/rerun",
    response_model=list[RerunResult],
    summary="Rerun many: by ids, or by filters (status, channel, time range) up to a limit",
    responses={400: {"description": "neither ids nor a filter was given"}},
)
async def rerun_many(body: RerunRequest, _: AdminDep, runtime: RuntimeDep) -> list[RerunResult]:
    if not (body.ids or body.filtered):
        raise BadRequest("give ids, or at least one of status, channel, since and until")
    # an id given twice is rerun once: each rerun is another request to the upstream
    ids = list(dict.fromkeys(body.ids)) if body.ids else await _matching(runtime, body)
    results = []
    for transaction_id in ids:
        # one rerun's fault must not lose the report of those already sent, nor stop the rest
        outcome = await rerun_outcome(runtime, transaction_id)
        results.append(
            RerunResult(
                parent_id=transaction_id,
                child_id=outcome.child_id,
                status=outcome.status,
                error=outcome.error,
            )
        )
    return results


async def _matching(runtime: RuntimeDep, body: RerunRequest) -> list[int]:
    def find() -> list[int]:
        with runtime.db.session() as session:
            filters = service.Filters(body.status, body.channel, None, None, body.since, body.until)
            return service.ids_matching(session, filters=filters, limit=body.limit)

    return await to_thread.run_sync(find)
