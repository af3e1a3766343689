"""Posting an import, synchronously or as a job, and parsing what DHIS2 says about it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar

from adapters.dhis2.id_schemes import IdSchemes
from adapters.dhis2.jobs import Job, wait

if TYPE_CHECKING:
    from adapters.dhis2.client import Dhis2Client

T = TypeVar("T")
Body = bytes | IO[bytes]
ImportStrategy = Literal["CREATE", "UPDATE", "CREATE_AND_UPDATE", "DELETE"]


def json_body(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def flag(value: bool) -> str:
    return "true" if value else "false"


def import_params(
    *,
    dry_run: bool = False,
    import_strategy: ImportStrategy | None = None,
    id_schemes: IdSchemes | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The query of an aggregate import; unset options are left out so DHIS2's defaults apply."""
    query: dict[str, Any] = {**(id_schemes.params() if id_schemes else {}), **(extra or {})}
    if dry_run:
        query["dryRun"] = flag(dry_run)
    if import_strategy:
        query["importStrategy"] = import_strategy
    return query


def post_import(
    client: Dhis2Client,
    resource: str,
    parse: Callable[[Any, int], T],
    *,
    body: Body,
    content_type: str = "application/json",
    params: Mapping[str, Any],
    async_: bool = False,
    job: Callable[[Any], Job] = Job.from_web_message,
    idempotent: bool = True,
    versioned: bool = True,
) -> T:
    """POST ``body`` to ``resource`` and return its parsed result.

    Synchronously, an HTTP 409 is part of the result (DHIS2 2.38+ answers conflicts with it),
    so it is parsed rather than raised. With ``async_`` the import runs as a DHIS2 job, which
    is polled until it completes and whose report is parsed the same way.
    ``idempotent`` says whether a resend after a lost reply is harmless (upserting imports)."""
    headers = {"Content-Type": content_type}
    if not async_:
        response = client.send(
            "POST",
            resource,
            params=params,
            data=body,
            headers=headers,
            accept=(409,),
            idempotent=idempotent,
            versioned=versioned,
        )
        return client.parse(response, parse)
    response = client.send(
        "POST",
        resource,
        params={**params, "async": "true"},
        data=body,
        headers=headers,
        idempotent=idempotent,
        versioned=versioned,
    )
    return wait(client, client.parse(response, lambda reply, _status: job(reply)), parse)
