"""The retry policy as pure functions: back-off with full jitter, Retry-After, the verdict on an attempt."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from hub.mediators.response import MediatorResponse
from hub.outbox.models import DeliveryStatus
from hub.outbox.service import Attempt, Backoff, backoff_delay, excerpt, next_delay, retry_after_s, verdict

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BACKOFF = Backoff(base_s=2.0, max_s=60.0)


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0), (6, 60.0), (50, 60.0), (10_000, 60.0)],
    ids=lambda v: str(v),
)
def test_backoff_ceiling_doubles_until_the_maximum(attempt: int, ceiling: float) -> None:
    assert backoff_delay(attempt, backoff=BACKOFF, rng=lambda: 1.0) == ceiling
    assert backoff_delay(attempt, backoff=BACKOFF, rng=lambda: 0.0) == 0.0


def test_backoff_is_jittered_over_the_whole_range_below_its_ceiling() -> None:
    rng = random.Random(7).random
    for attempt, ceiling in [(1, 2.0), (4, 16.0), (9, 60.0)]:
        delays = [backoff_delay(attempt, backoff=BACKOFF, rng=rng) for _ in range(2000)]
        assert all(0.0 <= d <= ceiling for d in delays)
        # full jitter: spread over [0, ceiling], not bunched near it
        assert min(delays) < 0.05 * ceiling and max(delays) > 0.95 * ceiling
        assert sum(delays) / len(delays) == pytest.approx(ceiling / 2, rel=0.1)
        assert len(set(delays)) == len(delays)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(seconds=90), usegmt=True), 0.0),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("²", None),
        ("Mon, 01 Jan 99999 00:00:00 GMT", None),
        ("", None),
        (None, None),
    ],
    ids=[
        "seconds",
        "padded",
        "http-date",
        "date-in-the-past",
        "negative",
        "fraction",
        "garbage",
        "non-ascii-digit",
        "date-out-of-range",
        "empty",
        "absent",
    ],
)
def test_retry_after_parsing(value: str | None, expected: float | None) -> None:
    assert retry_after_s(value, now=NOW) == expected


def answer(status: int | None, retry_after: str | None = None) -> Attempt:
    return Attempt(NOW, 12.0, status=status, retry_after=retry_after, error=None if status else "refused")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, DeliveryStatus.DELIVERED),
        (201, DeliveryStatus.DELIVERED),
        (204, DeliveryStatus.DELIVERED),
        (302, DeliveryStatus.FAILED),  # not followed: the data did not arrive
        (308, DeliveryStatus.FAILED),
        (400, DeliveryStatus.FAILED),
        (401, DeliveryStatus.FAILED),
        (404, DeliveryStatus.FAILED),
        (409, DeliveryStatus.FAILED),
        (422, DeliveryStatus.FAILED),
        (408, DeliveryStatus.PENDING),
        (429, DeliveryStatus.PENDING),
        (500, DeliveryStatus.PENDING),
        (502, DeliveryStatus.PENDING),
        (503, DeliveryStatus.PENDING),
        (None, DeliveryStatus.PENDING),
    ],
    ids=lambda v: str(v),
)
def test_verdict_on_one_attempt(status: int | None, expected: DeliveryStatus) -> None:
    assert verdict(answer(status), attempts=1, max_attempts=3) == expected


@pytest.mark.parametrize("status", [503, 429, None], ids=str)
def test_the_last_transient_failure_is_a_dead_letter(status: int | None) -> None:
    assert verdict(answer(status), attempts=3, max_attempts=3) == DeliveryStatus.DEAD
    assert verdict(answer(409), attempts=3, max_attempts=3) == DeliveryStatus.FAILED


@pytest.mark.parametrize(
    ("inner", "expected"),
    [(503, DeliveryStatus.PENDING), (429, DeliveryStatus.PENDING), (201, DeliveryStatus.DELIVERED)],
    ids=str,
)
def test_a_mediators_inner_answer_decides_whether_to_retry(inner: int, expected: DeliveryStatus) -> None:
    """A mediator answers HTTP 200 with its own upstream's 503: the work is owed, not refused."""
    reply = MediatorResponse.model_validate({"response": {"status": inner}})
    attempt = Attempt(NOW, 12.0, status=200, reply=reply)
    assert verdict(attempt, attempts=1, max_attempts=3) == expected


def test_next_delay_prefers_retry_after_on_429_and_503_capped_by_the_maximum() -> None:
    assert next_delay(answer(429, "30"), attempts=1, backoff=BACKOFF, now=NOW) == 30.0
    assert next_delay(answer(503, "30"), attempts=1, backoff=BACKOFF, now=NOW) == 30.0
    assert next_delay(answer(503, "86400"), attempts=1, backoff=BACKOFF, now=NOW) == 60.0
    assert next_delay(answer(500, "30"), attempts=1, backoff=BACKOFF, now=NOW) <= 2.0
    assert next_delay(answer(429, "whenever"), attempts=1, backoff=BACKOFF, now=NOW) <= 2.0


def test_excerpt_cuts_bytes_and_replaces_invalid_utf8() -> None:
    assert excerpt(b"abcdef", 3) == "abc"
    assert excerpt("é".encode() * 3, 3) == "é\ufffd"
    assert excerpt(b"\xff\xfe") == "\ufffd\ufffd"
    assert excerpt(None) == ""
