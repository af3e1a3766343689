"""Admin API for the outbox: list and inspect deliveries, send failed or dead ones again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hub.api.deps import AdminDep, SessionDep
from hub.api.fields import RowId
from hub.api.paging import next_cursor
from hub.api.routing import JsonRoute
from hub.outbox import service
from hub.outbox.models import DeliveryStatus
from hub.outbox.schemas import DeliveryDetail, DeliveryPage, DeliverySummary, RetryRequest, RetryResult

router = APIRouter(prefix="/outbox", tags=["outbox"], route_class=JsonRoute)


@router.get("", response_model=DeliveryPage, summary="List deliveries, newest first")
def list_deliveries(
    _: AdminDep,
    session: SessionDep,
    status: DeliveryStatus | None = None,
    transaction_id: RowId | None = None,
    route: Annotated[str | None, Query(description="route name")] = None,
    before_id: Annotated[RowId | None, Query(description="cursor: the last id of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeliveryPage:
    filters = service.Filters(status=status, transaction_id=transaction_id, route=route)
    rows = service.list_page(session, filters=filters, before_id=before_id, limit=limit)
    return DeliveryPage(
        items=DeliverySummary.page(session, rows),
        next_before_id=next_cursor(rows, limit),
    )


@router.get("/{delivery_id}", response_model=DeliveryDetail, summary="One delivery, with a body excerpt")
def get_delivery(delivery_id: RowId, _: AdminDep, session: SessionDep) -> DeliveryDetail:
    return DeliveryDetail.of(service.get(session, delivery_id))


@router.post(
    "/retry",
    response_model=RetryResult,
    summary="Send failed or dead deliveries again, by status, route or transaction",
)
def retry_many(body: RetryRequest, _: AdminDep, session: SessionDep) -> RetryResult:
    filters = service.Filters(
        status=DeliveryStatus(body.status) if body.status else None,
        transaction_id=body.transaction_id,
        route=body.route,
    )
    ids = [i for _, reset in service.retry_matching(session, filters=filters) for i in reset]
    return RetryResult(retried=len(ids), ids=ids)


@router.post(
    "/{delivery_id}/retry",
    response_model=DeliveryDetail,
    summary="Send one failed or dead delivery again",
    responses={409: {"description": "the delivery is not failed or dead"}},
)
def retry_one(delivery_id: RowId, _: AdminDep, session: SessionDep) -> DeliveryDetail:
    return DeliveryDetail.of(service.retry(session, delivery_id=delivery_id))
