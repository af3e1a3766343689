"""Public operational endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError

from hub import metrics
from hub.api.deps import RuntimeDep
from hub.api.openapi import PUBLIC
from hub.db.migrate import pending_message

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Liveness: the process answers", openapi_extra=PUBLIC)
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: database reachable and migrations current",
    responses={503: {"description": "not ready"}},
    openapi_extra=PUBLIC,
)
async def ready(runtime: RuntimeDep) -> JSONResponse:
    try:
        problem = await to_thread.run_sync(pending_message, runtime.db.engine)
    except SQLAlchemyError as exc:
        problem = f"database unreachable: {type(exc).__name__}"
    if problem:
        return JSONResponse({"status": "not ready", "detail": problem}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response, openapi_extra=PUBLIC)
async def prometheus(request: Request) -> Response:
    body = await to_thread.run_sync(metrics.exposition, request.app.state.gauges)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
