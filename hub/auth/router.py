"""Admin API for admin users and their API tokens."""

from __future__ import annotations

from fastapi import APIRouter, status

from hub.api.deps import AdminDep, RuntimeDep, SessionDep
from hub.api.fields import RowId
from hub.api.routing import JsonRoute
from hub.auth.schemas import UserIn, UserOut, UserPatch
from hub.auth.service import (
    create_user,
    get_user,
    issue_token,
    list_users,
    revoke_token,
    tokens_of,
    update_user,
)
from hub.clients.schemas import TokenCreated, TokenIn, TokenOut
from hub.errors import Conflict

router = APIRouter(prefix="/users", tags=["users"], route_class=JsonRoute)


@router.get("", response_model=list[UserOut], summary="List admin-API users")
def list_all(_: AdminDep, session: SessionDep) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in list_users(session)]


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED, summary="Add a user")
def add_user(body: UserIn, _: AdminDep, session: SessionDep) -> UserOut:
    return UserOut.model_validate(
        create_user(
            session,
            email=body.email,
            password=body.password,
            groups=body.groups,
            legacy_token_auth=body.legacy_token_auth,
        )
    )


@router.patch(
    "/{email}",
    response_model=UserOut,
    summary="Change a user's password, groups or legacy token auth",
    responses={400: {"description": "legacy token auth turned on without the password"}},
)
def patch_user(
    email: str, body: UserPatch, admin: AdminDep, session: SessionDep, runtime: RuntimeDep
) -> UserOut:
    user = get_user(session, email)
    if user.id == admin.pk and body.groups is not None and "admin" not in body.groups:
        raise Conflict("you cannot take yourself out of the admin group")
    user = update_user(session, user, **body.model_dump(exclude_unset=True))
    runtime.credentials_changed(session)
    return UserOut.model_validate(user)


@router.delete("/{email}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a user")
def delete_user(email: str, admin: AdminDep, session: SessionDep, runtime: RuntimeDep) -> None:
    user = get_user(session, email)  # in any case of the e-mail: compare the row, not the text
    if user.id == admin.pk:
        raise Conflict("you cannot remove yourself")
    session.delete(user)
    runtime.credentials_changed(session)


@router.get("/{email}/tokens", response_model=list[TokenOut], summary="A user's API tokens")
def list_user_tokens(email: str, _: AdminDep, session: SessionDep) -> list[TokenOut]:
    return [TokenOut.model_validate(t) for t in tokens_of(session, user=get_user(session, email))]


@router.post(
    "/{email}/tokens",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Issue an API token for a user (shown once)",
)
def user_token(email: str, body: TokenIn, _: AdminDep, session: SessionDep) -> TokenCreated:
    plaintext, row = issue_token(
        session, name=body.name, user=get_user(session, email), expires_at=body.expires_at
    )
    return TokenCreated.of(row, plaintext)


@router.delete(
    "/{email}/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a user's API token"
)
def revoke_user_token(
    email: str, token_id: RowId, _: AdminDep, session: SessionDep, runtime: RuntimeDep
) -> None:
    revoke_token(session, token_id=token_id, user=get_user(session, email))
    runtime.credentials_changed(session)
