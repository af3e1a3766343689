"""An answer with NUL bytes (a PDF, a zip) to a delivery through no channel, such as the DHIS2 API's
own: its excerpt is kept with U+FFFD for each NUL, which PostgreSQL's text refuses, so the outcome is
recorded once instead of the delivery being sent again until the dead letter."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from hub.db.session import Database
from hub.outbox.models import DeliveryStatus
from hub.outbox.worker import Worker
from hub.transactions.models import Status, Transaction
from tests.outbox.support import enqueue, load, spec, transaction, work_until


def test_an_answer_with_nul_bytes_is_recorded_once(db: Database, make_worker: Callable[..., Worker]) -> None:
    sent: list[httpx.Request] = []

    def pdf(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=b"%PDF-1.7\x00\x01\x00report")

    worker = make_worker()
    worker.http.close()
    worker.http = httpx.Client(transport=httpx.MockTransport(pdf))
    tx_id = transaction(db, Status.PENDING_ASYNC)
    queued = spec("http://dhis2.test/api/report", primary=True, max_attempts=3)
    (delivery_id,) = enqueue(db, queued, transaction_id=tx_id)

    work_until(worker, db, [delivery_id])

    row = load(db, delivery_id)
    kept = "%PDF-1.7\ufffd\x01\ufffdreport"
    assert (row.status, row.attempts, row.last_response) == (DeliveryStatus.DELIVERED, 1, kept)
    assert len(sent) == 1
    with db.session() as session:
        tx = session.get_one(Transaction, tx_id)
    assert (tx.status, tx.response_status, tx.response_body) == (Status.SUCCESSFUL, 200, kept)
