"""The hub's ASGI application: reserved API routes first, the channel gateway catch-all last."""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub import config_file
from hub.api import fhir, health, openapi, problems
from hub.api.body_limit import BodyLimit
from hub.auth import passwords
from hub.auth.router import router as users_router
from hub.auth.service import bootstrap_admin, stored_password_hashes
from hub.channels.router import router as channels_router
from hub.clients.router import router as clients_router
from hub.db.migrate import pending_message
from hub.dhis2.api.data_values import post_data_value_sets
from hub.dhis2.api.data_values import router as dhis2_data_values_router
from hub.dhis2.api.metadata import router as dhis2_metadata_router
from hub.dhis2.api.system import router as dhis2_system_router
from hub.gateway.router import METHODS, ChannelRoute, first_segments, gateway
from hub.instances import heartbeat
from hub.logs import request_id
from hub.mediators import service as mediator_service
from hub.mediators.router import router as mediators_router
from hub.outbox import service as outbox_service
from hub.outbox.router import router as outbox_router
from hub.outbox.worker import EmbeddedWorker
from hub.periodic import repeat, stop
from hub.runtime import Runtime
from hub.settings import Settings, get_settings
from hub.tasks import runner as task_runner
from hub.tasks.router import router as tasks_router
from hub.transactions import retention
from hub.transactions.router import router as transactions_router

log = logging.getLogger("hub")

SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# A request id the hub makes: 32 hex digits, a random prefix per process and a count (unique
# without a call for random bytes per request).
REQUEST_ID_PREFIX = os.urandom(8).hex()
_request_numbers = itertools.count()


def _new_request_id() -> str:
    return f"{REQUEST_ID_PREFIX}{next(_request_numbers):016x}"


REFRESH_S = 2.0


class NotMigrated(RuntimeError):
    """The database schema is behind the code: the hub refuses to start."""


class RequestIdMiddleware:
    """Adopt a sane incoming ``X-Request-ID`` or make one; echo it on the response and into logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # latin-1 reads any bytes; an id that is not SAFE_REQUEST_ID's ASCII is replaced below
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        rid = (
            incoming
            if SAFE_REQUEST_ID.match(incoming)
            else f"{REQUEST_ID_PREFIX}{next(_request_numbers):016x}"
        )
        # Not reset on the way out: the server runs each request in a task of its own (a context of
        # its own), and the handler of an unexpected error, outside this layer, still needs the id.
        request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


def prepare(runtime: Runtime) -> None:
    """Start-up work that must finish before the first request (blocking; run in a thread)."""
    problem = pending_message(runtime.db.engine)
    if problem:
        raise NotMigrated(problem)
    settings = runtime.settings
    # Without a file there is nothing to compare with: what an earlier file made is left alone.
    hub_file = config_file.read(settings.config) if settings.config else None
    with runtime.db.session() as session:
        admin = bootstrap_admin(
            session,
            email=settings.admin_email,
            password=settings.admin_password.get_secret_value() if settings.admin_password else None,
            legacy_token_auth=settings.admin_legacy_token_auth,
        )
        if admin is not None:
            log.info(
                "bootstrapped the first admin user from HUB_ADMIN_EMAIL",
                extra={"legacy_token_auth": settings.admin_legacy_token_auth},
            )
        if hub_file is not None:
            config_file.apply(session, hub_file)
        stored = stored_password_hashes(session)
    # a wrong password takes as long from the first request, whatever the hash (no transaction
    # is open: a bcrypt verification takes a quarter of a second)
    passwords.calibrate(stored)
    # what a crash of this instance, or a dead one, left in flight is failed before any new work
    heartbeat.start(runtime)
    # the channel table, and the credential revision that the cache is kept at from now on (the
    # cache starts empty: the file may have changed or removed clients)
    runtime.refresh()
    runtime.log_writer.start()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime: Runtime = app.state.runtime
    await to_thread.run_sync(prepare, runtime)
    tasks = [
        asyncio.create_task(
            repeat(runtime.refresh, REFRESH_S, log=log, what="refresh of channels and credentials", now=False)
        ),
        asyncio.create_task(retention.run_periodically(runtime)),
        asyncio.create_task(task_runner.run_periodically(runtime)),
        asyncio.create_task(heartbeat.run_periodically(runtime)),
    ]
    worker = EmbeddedWorker(runtime) if runtime.settings.embedded_worker else None
    if worker:
        worker.start()
    log.info("hub ready", extra={"database": runtime.db.dialect, "channels": len(runtime.channels.entries)})
    try:
        async with api_router().lifespan_context(app):  # the routers' own: DHIS2 import jobs' take-over
            yield
    finally:
        for task in tasks:
            await stop(task)
        if worker:
            await to_thread.run_sync(worker.stop)
        await runtime.aclose()


@functools.cache
def api_router() -> APIRouter:
    """The hub's own API: its routes, made once per process and shared by every app it builds, and
    its routers' lifespans (:func:`lifespan` enters them).

    FastAPI analyses a route's parameters and dependencies as the route is made, which costs more
    than the rest of an app's construction; the routes hold nothing of an app (a handler reaches
    its runtime through ``request.app``).
    """
    api = APIRouter()
    api.include_router(health.router)
    for router in (
        users_router,
        clients_router,
        channels_router,
        transactions_router,
        tasks_router,
        outbox_router,
    ):
        api.include_router(router, prefix="/admin")
    for router in (
        mediators_router,
        fhir.router,
        dhis2_system_router,
        dhis2_metadata_router,
        dhis2_data_values_router,
    ):
        api.include_router(router)
    return api


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the hub application for ``settings`` (default: environment and YAML file)."""
    runtime = runtime or Runtime.create(settings or get_settings())
    app = FastAPI(
        title="Health interoperability hub",
        version="0.1.0",
        description="Channels, transaction log, durable outbox and an OpenHIM-compatible mediator API. "
        "Admin endpoints need an admin user (HTTP Basic, bearer token or OpenHIM token auth).",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.gauges = [outbox_service.gauges(runtime.db), mediator_service.gauges(runtime.db)]
    problems.install(app)
    openapi.install(app)
    fhir.install(app)
    app.router.routes.extend(api_router().routes)
    reserved = first_segments([r.path for r in app.routes if isinstance(r, BaseRoute) and hasattr(r, "path")])
    if reserved is not None:
        if "admin" not in reserved:  # the included routers' paths are not in app.routes: every
            # API path would be taken for channel traffic
            raise RuntimeError("this FastAPI version does not list included routes; see pyproject.toml")
        app.router.routes.insert(0, ChannelRoute(reserved))
    app.add_route("/{path:path}", gateway, methods=METHODS, include_in_schema=False)
    app.add_middleware(
        BodyLimit,
        max_bytes=runtime.settings.max_body_bytes,
        own_limits=frozenset({gateway, post_data_value_sets}),
    )
    app.add_middleware(RequestIdMiddleware)
    return app
