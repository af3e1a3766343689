"""Deliveries (and their transactions) written through the services as the gateway does; running a worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import select

from hub.db.session import Database
from hub.outbox import service
from hub.outbox.models import Delivery, DeliveryStatus
from hub.outbox.worker import Worker
from hub.transactions import service as transactions
from hub.transactions.models import Status

UNSETTLED = {DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT}


class QuietHandler(BaseHTTPRequestHandler):
    """A test server's handler: no request lines on stderr, and :meth:`reply` for a whole answer."""

    def reply(self, body: bytes, content_type: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on a free loopback port in a thread; its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def spec(url: str, **overrides: Any) -> service.DeliverySpec:
    values: dict[str, Any] = {
        "route_name": "target",
        "method": "POST",
        "url": url,
        "headers": {"content-type": "application/json"},
        "body": b'{"value": 1}',
        "timeout_s": 5.0,
        "max_attempts": 5,
    }
    values.update(overrides)
    return service.DeliverySpec(**values)


def transaction(db: Database, status: Status) -> int:
    """A closed transaction with ``status``, as the gateway leaves it."""
    opening = transactions.Opening(
        request_id="req-1",
        method="POST",
        path="/in",
        query="",
        client_id="partner-1",
        channel_pk=None,
        channel_name="test",
        request_headers={},
        request_body=None,
        request_body_size=0,
        request_stored=False,
    )
    with db.session() as session:
        tx_id, started = transactions.open_transaction(session, opening)
        closing = transactions.Closing(status, 202, {}, None, [], {})
        transactions.close_transaction(session, tx_id, closing, started)
    return tx_id


def enqueue(db: Database, *specs: service.DeliverySpec, transaction_id: int | None = None) -> list[int]:
    """Enqueue ``specs``; returns the new deliveries' ids in order."""
    with db.session() as session:
        keys = service.enqueue(session, transaction_id=transaction_id, deliveries=list(specs))
        by_key = dict(
            session.execute(
                select(Delivery.idempotency_key, Delivery.id).where(Delivery.idempotency_key.in_(keys))
            ).all()
        )
    return [by_key[k] for k in keys]


def load(db: Database, delivery_id: int) -> Delivery:
    with db.session() as session:
        return session.get_one(Delivery, delivery_id)


def work_until(worker: Worker, db: Database, ids: list[int], *, timeout_s: float = 15) -> None:
    """Run batches until every delivery in ``ids`` is settled (delivered, failed or dead)."""
    deadline = time.monotonic() + timeout_s
    while any(load(db, i).status in UNSETTLED for i in ids):
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries {ids} still {[load(db, i).status for i in ids]}")
        if not worker.run_once():
            time.sleep(0.02)
