"""Dependencies every router shares: the runtime, a DB session per request, the admin check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from sqlalchemy.orm import Session

from hub.auth import legacy
from hub.auth.principal import Principal
from hub.auth.service import CHALLENGE, client_address
from hub.errors import Forbidden, Unauthenticated
from hub.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """One DB transaction per request, committed when the handler returns."""
    with runtime.db.session() as session:
        yield session


# scope="function": commit before the response is sent, so a client never reads uncommitted state
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def authenticate_user(request: Request, runtime: RuntimeDep) -> Principal:
    """An admin-API user by Basic, a user's bearer token, or OpenHIM's legacy token headers."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() == "basic" and credential:
        return runtime.authenticator.basic_user(credential.strip(), client_address(request.scope))
    if scheme.lower() == "bearer" and credential:
        principal = runtime.authenticator.bearer(credential.strip())
        if principal.kind != "user":
            raise Forbidden("client tokens cannot use the admin API")
        return principal
    if "auth-token" in request.headers:
        return legacy.authenticate_headers(
            runtime.authenticator, request.headers, client_address(request.scope)
        )
    raise Unauthenticated("authentication required", headers=CHALLENGE)


UserDep = Annotated[Principal, Depends(authenticate_user)]


def require_admin(principal: UserDep) -> Principal:
    if not principal.is_admin:
        raise Forbidden(f"{principal.name} is not in the admin group")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]


def depends_on(route: Any, call: Callable[..., Any]) -> bool:
    """Whether ``route`` depends, directly or through other dependencies, on ``call``."""
    dependant: Dependant | None = getattr(route, "dependant", None)
    pending = [dependant] if dependant is not None else []
    while pending:
        current = pending.pop()
        if current.call is call:
            return True
        pending.extend(current.dependencies)
    return False


def needs_admin(route: Any) -> bool:
    """Whether ``route`` (the one routing chose) depends on the admin check."""
    return depends_on(route, require_admin)


def check_admin_first(request: Request) -> None:
    """Raise what an admin route's dependencies would (401, 403, 429) for this request, if anything.

    FastAPI reads and parses a route's body before it runs the route's dependencies: without this,
    the error handlers would tell a caller that never authenticated what was wrong with its body.
    """
    if needs_admin(request.scope.get("route")):
        require_admin(authenticate_user(request, get_runtime(request)))
