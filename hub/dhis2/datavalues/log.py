"""The transaction log entry of a DHIS2 data call: opened before any work, closed with the answer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson

from hub.db.session import Database
from hub.dhis2.datavalues.summary import ImportSummary
from hub.errors import HubError
from hub.logs import request_id
from hub.transactions.models import Status
from hub.transactions.service import Closing, Opening, close_transaction, open_transaction

CHANNEL = "dhis2-data-values"
STORED_BODY_BYTES = 64 * 1024  # bigger payloads are logged by size only; the values are in the store
SECRET_HEADERS = frozenset({"authorization", "cookie", "x-api-key"})


def open_entry(
    db: Database,
    *,
    client: str,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes | None,
    size: int,
    instance: str,
) -> tuple[int, datetime]:
    """Write the Processing row, owned by the hub process ``instance``; returns its id and start time."""
    stored = body is not None and size <= STORED_BODY_BYTES
    opening = Opening(
        request_id=request_id.get() or "",
        method=method,
        path=path,
        query=query,
        client_id=client,
        channel_pk=None,
        channel_name=CHANNEL,
        request_headers={k: v for k, v in headers.items() if k.lower() not in SECRET_HEADERS},
        request_body=body.decode("utf-8", "replace") if stored and body is not None else None,
        request_body_size=size,
        request_stored=stored,
    )
    with db.session() as session:
        return open_transaction(session, opening, instance=instance)


def close_entry(
    db: Database,
    *,
    transaction_id: int,
    started: datetime,
    status_code: int,
    body: dict[str, Any],
    summary: ImportSummary,
) -> None:
    """Record the answer; a summary with conflicts is Completed, one without is Successful."""
    closing = Closing(
        status=Status.SUCCESSFUL if summary.status == "SUCCESS" else Status.COMPLETED,
        response_status=status_code,
        response_headers={"content-type": "application/json"},
        response_body=orjson.dumps(body).decode()[:STORED_BODY_BYTES],
        orchestrations=[],
        properties={"dhis2.importCount": summary.count.as_dict(), "dhis2.status": summary.status},
    )
    with db.session() as session:
        close_transaction(session, transaction_id, closing, started)


@contextmanager
def failed_if_raising(db: Database, *, transaction_id: int, started: datetime) -> Iterator[None]:
    """Close the entry as Failed when the block raises, rather than leave it Processing until a
    restart; its error names only the exception's class (its text may hold the payload's values)."""
    try:
        yield
    except Exception as exc:
        message = f"the import failed ({type(exc).__name__}); see the hub log"
        status = exc.status if isinstance(exc, HubError) else 500
        closing = Closing(Status.FAILED, status, None, None, [], {}, error={"message": message})
        with db.session() as session:
            close_transaction(session, transaction_id, closing, started)
        raise
