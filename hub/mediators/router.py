"""OpenHIM core's mediator API and its legacy token challenge, at OpenHIM's paths (no ``/admin`` prefix).

Existing mediators and the ``openhim-mediator-utils`` npm package talk to these
routes unchanged. Bodies are parsed here rather than by FastAPI so that a bad
registration answers 400, as OpenHIM core does, not FastAPI's 422; unset fields
are left out of answers, as OpenHIM core (MongoDB) leaves them out. A urn may hold ``/``
(sent as ``%2F``), hence ``{urn:path}``; the routes with a suffix come first so that
``/mediators/a/b/heartbeat`` is a heartbeat of ``a/b``, not a look-up of ``a/b/heartbeat``.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Response, status
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from hub.api.deps import AdminDep, RuntimeDep, SessionDep
from hub.api.openapi import PUBLIC
from hub.api.routing import JsonRoute
from hub.auth import legacy
from hub.channels import service as channel_service
from hub.channels.schemas import ChannelOut
from hub.errors import BadRequest
from hub.mediators import service
from hub.mediators.schemas import HeartbeatIn, MediatorIn, MediatorOut

router = APIRouter(tags=["mediators"], route_class=JsonRoute)

T = TypeVar("T")
JsonBody = Annotated[Any, Body()]

REGISTRATION = TypeAdapter(MediatorIn)
HEARTBEAT = TypeAdapter(HeartbeatIn)
CONFIG = TypeAdapter(dict[str, Any])
CHANNEL_NAMES = TypeAdapter(list[str] | None)

NOT_AN_OBJECT = "the body must be a JSON object sent as application/json"

_STARTED = time.monotonic()  # this module loads as the process builds its app


def _message(error: ErrorDetails) -> str:
    """Pydantic's message, but for a body that is not an object: FastAPI passes a body sent without
    a JSON content type (``curl -d`` sends a form) as bytes, which no document model can name."""
    if not error["loc"] and error["type"] in ("model_type", "dict_type"):
        return NOT_AN_OBJECT
    return error["msg"]


def _parse(adapter: TypeAdapter[T], body: Any) -> T:
    try:
        return adapter.validate_python(body)
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": _message(e), "type": e["type"]} for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in errors)
        raise BadRequest(detail, extra={"errors": errors}) from exc


@router.get(
    "/authenticate/{user}",
    summary="OpenHIM legacy token auth: the salt and server time",
    openapi_extra=PUBLIC,
)
def authenticate(user: str, session: SessionDep, runtime: RuntimeDep) -> dict[str, str]:
    return legacy.challenge(session, user, runtime.settings.secret_key.get_secret_value().encode())


@router.get(
    "/heartbeat",
    summary="OpenHIM core's uptime check: this process's uptime and each mediator's, null when silent",
    openapi_extra=PUBLIC,
)
def core_heartbeat(session: SessionDep) -> dict[str, Any]:
    """Public, as in OpenHIM core (its console and container health checks call it without
    credentials): ``master`` is seconds up, ``mediators`` maps each urn to the uptime its last
    heartbeat reported, or null when none came within the last minute; ``now`` is epoch ms."""
    return {
        "master": time.monotonic() - _STARTED,
        "mediators": service.uptimes(session),
        "now": int(time.time() * 1000),
    }


@router.get(
    "/mediators",
    response_model=list[MediatorOut],
    response_model_exclude_none=True,
    summary="Registered mediators",
)
def list_mediators(_: AdminDep, session: SessionDep) -> list[MediatorOut]:
    return [service.to_out(m) for m in service.list_mediators(session)]


@router.post(
    "/mediators",
    response_model=MediatorOut,
    response_model_exclude_none=True,
    status_code=status.HTTP_201_CREATED,
    summary="Register a mediator, or upgrade it to a higher version (config already set is kept)",
)
def register(_: AdminDep, session: SessionDep, body: JsonBody = None) -> MediatorOut:
    return service.to_out(service.register(session, mediator=_parse(REGISTRATION, body)))


@router.post(
    "/mediators/{urn:path}/heartbeat",
    response_model=None,
    summary="Record a heartbeat; the body is the config when it changed or was asked for, else empty",
)
def heartbeat(urn: str, _: AdminDep, session: SessionDep, body: JsonBody = None) -> Response:
    config = service.heartbeat(session, urn=urn, beat=_parse(HEARTBEAT, body))
    return Response(status_code=status.HTTP_200_OK) if config is None else JSONResponse(config)


@router.put(
    "/mediators/{urn:path}/config",
    response_model=MediatorOut,
    response_model_exclude_none=True,
    summary="Set a mediator's config",
)
def set_config(urn: str, _: AdminDep, session: SessionDep, body: JsonBody = None) -> MediatorOut:
    return service.to_out(service.set_config(session, urn=urn, config=_parse(CONFIG, body)))


@router.post(
    "/mediators/{urn:path}/channels",
    response_model=list[ChannelOut],
    status_code=status.HTTP_201_CREATED,
    summary="Install default channels by name (all of them for an empty body)",
)
def install_channels(
    urn: str, admin: AdminDep, session: SessionDep, runtime: RuntimeDep, body: JsonBody = None
) -> list[ChannelOut]:
    names = _parse(CHANNEL_NAMES, body) or []
    channels = service.install_channels(session, urn=urn, names=names, actor=admin.name)
    runtime.reload_channels(session, force=True)
    return [channel_service.to_out(c) for c in channels]


@router.get(
    "/mediators/{urn:path}",
    response_model=MediatorOut,
    response_model_exclude_none=True,
    summary="One mediator, passwords masked",
)
def get_mediator(urn: str, _: AdminDep, session: SessionDep) -> MediatorOut:
    return service.to_out(service.get(session, urn))


@router.delete("/mediators/{urn:path}", response_class=PlainTextResponse, summary="Forget a mediator")
def remove(urn: str, admin: AdminDep, session: SessionDep) -> str:
    """200 with OpenHIM core's text, which scripts written for it look for. Unlike OpenHIM core
    (whose findOneAndRemove does not fail on a missing urn, so it answers 200 either way), an
    unknown urn is a 404 problem+json, as everywhere else in the API: the urn was likely mistyped."""
    service.remove(session, urn=urn)
    return f"Mediator with urn {urn} has been successfully removed by {admin.name}"
