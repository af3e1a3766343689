"""Retry-After as an HTTP-date in each of the three forms RFC 9110 (5.6.7) has a recipient accept:
IMF-fixdate, RFC 850 and asctime, the last without a zone (an HTTP-date is UTC)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from hub.db.base import utcnow
from hub.db.session import Database
from hub.outbox.models import DeliveryStatus
from hub.outbox.service import retry_after_s
from hub.outbox.worker import Worker
from tests.outbox.support import enqueue, load, spec

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

FORMS: dict[str, Callable[[datetime], str]] = {
    "imf-fixdate": lambda when: format_datetime(when, usegmt=True),
    "rfc850": lambda when: when.strftime("%A, %d-%b-%y %H:%M:%S GMT"),
    "asctime": lambda when: time.asctime(when.utctimetuple()),
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Sun, 01 Mar 2026 12:01:30 GMT", 90.0),
        ("Sunday, 01-Mar-26 12:01:30 GMT", 90.0),
        ("Sun Mar  1 12:01:30 2026", 90.0),
        ("Sun Mar  1 11:58:30 2026", 0.0),
        ("Sun Mar 32 12:01:30 2026", None),
    ],
    ids=["imf-fixdate", "rfc850", "asctime", "asctime-in-the-past", "asctime-out-of-range"],
)
def test_each_http_date_form_is_read(value: str, expected: float | None) -> None:
    assert retry_after_s(value, now=NOW) == expected


@pytest.mark.parametrize("form", FORMS)
def test_a_worker_waits_as_long_as_an_http_date_in_any_form_asks(
    db: Database, make_worker: Callable[..., Worker], form: str
) -> None:
    def busy(request: httpx.Request) -> httpx.Response:
        later = utcnow().replace(microsecond=0) + timedelta(seconds=5)
        return httpx.Response(503, headers={"Retry-After": FORMS[form](later)})

    worker = make_worker(outbox_backoff_base_s=0.5, outbox_backoff_max_s=8.0)
    worker.http.close()
    worker.http = httpx.Client(transport=httpx.MockTransport(busy))
    (delivery_id,) = enqueue(db, spec("http://registry.test/fhir"))

    assert worker.run_once() == 1

    row = load(db, delivery_id)
    wait_s = (row.next_attempt_at - row.updated_at).total_seconds()
    assert (row.status, row.last_status) == (DeliveryStatus.PENDING, 503)
    assert 3.5 < wait_s <= 5.0, f"the upstream's date, not the back-off (at most 0.5 s): {wait_s}"
