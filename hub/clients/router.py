"""Admin API for clients and their API tokens."""

from __future__ import annotations

from fastapi import APIRouter, status

from hub.api.deps import AdminDep, RuntimeDep, SessionDep
from hub.api.fields import RowId
from hub.api.routing import JsonRoute
from hub.auth import service as auth_service
from hub.auth.models import Client
from hub.clients import service
from hub.clients.schemas import ClientIn, ClientOut, ClientPatch, TokenCreated, TokenIn, TokenOut

router = APIRouter(prefix="/clients", tags=["clients"], route_class=JsonRoute)


def _out(client: Client) -> ClientOut:
    return ClientOut.model_validate(
        {
            **{f: getattr(client, f) for f in ClientOut.model_fields if f != "has_password"},
            "has_password": bool(client.password_hash),
        }
    )


@router.get("", response_model=list[ClientOut], summary="List clients")
def list_clients(_: AdminDep, session: SessionDep) -> list[ClientOut]:
    return [_out(c) for c in service.list_clients(session)]


@router.post("", response_model=ClientOut, status_code=status.HTTP_201_CREATED, summary="Add a client")
def create_client(body: ClientIn, _: AdminDep, session: SessionDep) -> ClientOut:
    return _out(service.create(session, client_in=body))


@router.get("/{client_id}", response_model=ClientOut, summary="One client")
def get_client(client_id: str, _: AdminDep, session: SessionDep) -> ClientOut:
    return _out(service.get(session, client_id))


@router.patch("/{client_id}", response_model=ClientOut, summary="Change a client")
def update_client(
    client_id: str, body: ClientPatch, _: AdminDep, session: SessionDep, runtime: RuntimeDep
) -> ClientOut:
    client = service.update(session, client=service.get(session, client_id), patch=body)
    runtime.credentials_changed(session)
    return _out(client)


@router.delete("/{client_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a client")
def delete_client(client_id: str, _: AdminDep, session: SessionDep, runtime: RuntimeDep) -> None:
    service.delete(session, client=service.get(session, client_id))
    runtime.credentials_changed(session)


@router.get("/{client_id}/tokens", response_model=list[TokenOut], summary="A client's API tokens")
def list_tokens(client_id: str, _: AdminDep, session: SessionDep) -> list[TokenOut]:
    return [
        TokenOut.model_validate(t)
        for t in auth_service.tokens_of(session, client=service.get(session, client_id))
    ]


@router.post(
    "/{client_id}/tokens",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Issue an API token (shown once)",
)
def create_token(client_id: str, body: TokenIn, _: AdminDep, session: SessionDep) -> TokenCreated:
    plaintext, row = auth_service.issue_token(
        session, name=body.name, client=service.get(session, client_id), expires_at=body.expires_at
    )
    return TokenCreated.of(row, plaintext)


@router.delete(
    "/{client_id}/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke an API token"
)
def revoke_token(
    client_id: str, token_id: RowId, _: AdminDep, session: SessionDep, runtime: RuntimeDep
) -> None:
    auth_service.revoke_token(session, token_id=token_id, client=service.get(session, client_id))
    runtime.credentials_changed(session)
