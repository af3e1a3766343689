"""Admin API for channels; every change is audited and reloads the routing table."""

from __future__ import annotations

from fastapi import APIRouter, status

from hub.api.deps import AdminDep, RuntimeDep, SessionDep
from hub.api.routing import JsonRoute
from hub.channels import service
from hub.channels.schemas import ChannelAuditOut, ChannelOut, ChannelSpec

router = APIRouter(prefix="/channels", tags=["channels"], route_class=JsonRoute)


@router.get("", response_model=list[ChannelOut], summary="List channels, highest priority first")
def list_channels(_: AdminDep, session: SessionDep) -> list[ChannelOut]:
    return [service.to_out(c) for c in service.list_channels(session)]


@router.post("", response_model=ChannelOut, status_code=status.HTTP_201_CREATED, summary="Add a channel")
def create_channel(
    body: ChannelSpec, admin: AdminDep, session: SessionDep, runtime: RuntimeDep
) -> ChannelOut:
    channel = service.create(session, spec=body, actor=admin.name)
    runtime.reload_channels(session, force=True)
    return service.to_out(channel)


@router.get("/{name}", response_model=ChannelOut, summary="One channel")
def get_channel(name: str, _: AdminDep, session: SessionDep) -> ChannelOut:
    return service.to_out(service.get_by_name(session, name))


@router.put("/{name}", response_model=ChannelOut, summary="Replace a channel's definition")
def update_channel(
    name: str, body: ChannelSpec, admin: AdminDep, session: SessionDep, runtime: RuntimeDep
) -> ChannelOut:
    channel = service.update(session, channel=service.get_by_name(session, name), spec=body, actor=admin.name)
    runtime.reload_channels(session, force=True)
    return service.to_out(channel)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a channel")
def delete_channel(name: str, admin: AdminDep, session: SessionDep, runtime: RuntimeDep) -> None:
    service.delete(session, channel=service.get_by_name(session, name), actor=admin.name)
    runtime.reload_channels(session, force=True)


@router.get(
    "/{name}/audit", response_model=list[ChannelAuditOut], summary="Who changed this channel, and how"
)
def channel_audit(name: str, _: AdminDep, session: SessionDep) -> list[ChannelAuditOut]:
    return [ChannelAuditOut.model_validate(a) for a in service.audit_log(session, name=name)]
