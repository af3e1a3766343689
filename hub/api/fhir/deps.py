"""Who may use the FHIR terminology API, and the catalog it reads.

Reading (search, read, every operation) needs any authenticated caller: a client (Basic,
bearer token or TLS certificate) or an admin-API user (Basic with their e-mail, or their bearer
token). Creating and updating resources needs an admin user. Failures are OperationOutcomes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from typing import Annotated

from anyio import to_thread
from fastapi import Depends, Request

from hub.api.fhir import params
from hub.api.fhir.outcome import HubFailure
from hub.api.fhir.params import OperationInput
from hub.auth.principal import Principal
from hub.auth.service import CHALLENGE, client_address, parse_basic
from hub.errors import Forbidden, HubError, Unauthenticated
from hub.runtime import Runtime
from terminology.catalog import Catalog, catalog_for


async def _runtime(request: Request) -> Runtime:
    # hub.api.deps.get_runtime is a plain function, which FastAPI would run in the thread pool:
    # a thread hop per request costs a third of a $lookup
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


async def _principal(runtime: Runtime, request: Request) -> Principal:
    auth = runtime.authenticator
    authorization = request.headers.get("authorization", "")
    principal = await auth.certificate_client(request.scope, other_credentials=bool(authorization))
    if principal is not None:
        return principal
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    if scheme.lower() == "bearer" and credential:
        return await auth.checked("bearer", credential, auth.bearer)
    if scheme.lower() == "basic" and credential:
        # admin-API users sign in with their e-mail address; clients with their client id, which
        # may hold an "@" too: a name that is no user's is tried as a client's
        # the address only matters when a credential is checked, not when the cache answers
        if "@" in parse_basic(credential)[0]:
            with contextlib.suppress(Unauthenticated):
                user = lambda c: auth.basic_user(c, client_address(request.scope))  # noqa: E731
                return await auth.checked("basic-user", credential, user)
        client = lambda c: auth.basic_client(c, client_address(request.scope))  # noqa: E731
        return await auth.checked("basic-client", credential, client)
    raise Unauthenticated("authentication required", headers=CHALLENGE)


async def reader(request: Request, runtime: RuntimeDep) -> Principal:
    try:
        return await _principal(runtime, request)
    except HubError as exc:
        raise HubFailure(exc) from exc


ReaderDep = Annotated[Principal, Depends(reader)]


async def editor(principal: ReaderDep) -> Principal:
    if not principal.is_admin:
        raise HubFailure(
            Forbidden(f"{principal.name} may read terminology but only admin users may change it")
        )
    return principal


EditorDep = Annotated[Principal, Depends(editor)]


async def fresh_catalog(runtime: RuntimeDep) -> Catalog:
    """The catalog of the hub's database, reloaded (in a thread, off the event loop) when stale."""
    catalog = catalog_for(runtime.db)
    if catalog.stale:
        await to_thread.run_sync(catalog.refresh)
    return catalog


CatalogDep = Annotated[Catalog, Depends(fresh_catalog)]


async def operation_call(
    request: Request, name: str, accepted: Collection[str]
) -> tuple[OperationInput, Catalog]:
    """What a catalog-only operation needs: the caller checked, its parameters, a fresh catalog.

    The hot operations ($lookup, $validate-code, $expand) call this instead of declaring three
    FastAPI dependencies: resolving those costs more than the look-up itself.
    """
    runtime = await _runtime(request)
    await reader(request, runtime)
    given = await params.read(request, name, accepted)
    return given, await fresh_catalog(runtime)
