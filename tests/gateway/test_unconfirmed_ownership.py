"""A row the log writer left unconfirmed is failed only if it is the request's own: found by request
id and the client that sent it. A client may choose its request id (``X-Request-ID``), another
client's too, and must not get that client's request in flight failed by sending it.

On each backend: in the transactions service, then through the gateway of a live hub, whose row is
failed at once or, the database refusing that, by a heartbeat."""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from hub.db.session import Database
from hub.gateway.log_writer import LogUnavailable
from hub.transactions import service as transactions
from hub.transactions.models import Status, Transaction
from tests.conftest import PARTNER, PASSWORD, channel
from tests.gateway.conftest import WireUpstream, mediator_reply
from tests.gateway.test_database_outages import wait_for

INSTANCE = "ownership-test-instance"
SHARED = "shared-request-id"
UNCONFIRMED = "the hub could not confirm this request's log"


def opening(request_id: str, client_id: str | None) -> transactions.Opening:
    return transactions.Opening(request_id, "POST", "/in", "", client_id, None, "in", {}, "{}", 2, True)


def statuses(db: Database) -> dict[tuple[str, str | None, str | None], str]:
    """Each row's status by (request id, client, instance)."""
    with db.session() as session:
        return {
            (t.request_id, t.client_id, t.instance): t.status for t in session.scalars(select(Transaction))
        }


# -- the service ------------------------------------------------------------------------------------


def test_only_the_row_of_the_client_that_sent_the_request_is_failed(db: Database) -> None:
    clients = ("client-a", "client-b", None)
    with db.session() as session:
        for client in clients:
            transactions.open_transaction(session, opening(SHARED, client), instance=INSTANCE)
        transactions.open_transaction(session, opening(SHARED, "client-a"), instance="another-instance")

    with db.session() as session:
        failed = transactions.fail_unconfirmed(
            session, requests=[transactions.ClientRequest(SHARED, "client-a")], instance=INSTANCE
        )
    assert failed == 1
    assert statuses(db) == {
        (SHARED, "client-a", INSTANCE): Status.FAILED,
        (SHARED, "client-b", INSTANCE): Status.PROCESSING,  # another client's, of the same request id
        (SHARED, None, INSTANCE): Status.PROCESSING,
        (SHARED, "client-a", "another-instance"): Status.PROCESSING,
    }

    # a request of no client (an unauthenticated one) is matched through IS NULL, and only its row
    with db.session() as session:
        failed = transactions.fail_unconfirmed(
            session, requests=[transactions.ClientRequest(SHARED, None)], instance=INSTANCE
        )
    assert failed == 1
    assert statuses(db)[(SHARED, None, INSTANCE)] == Status.FAILED
    assert statuses(db)[(SHARED, "client-b", INSTANCE)] == Status.PROCESSING


def test_requests_of_several_clients_are_failed_in_batches(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch mixes clients and the no client; every other client's row of the same request id
    stays Processing."""
    monkeypatch.setattr(transactions, "UNCONFIRMED_BATCH", 2)
    owed = [
        transactions.ClientRequest(f"r{n}", client)
        for n, client in enumerate(["client-a", None, "client-b", "client-a", None])
    ]
    with db.session() as session:
        for request_id, _ in owed:
            for sender in ("client-a", "client-b", None):
                transactions.open_transaction(session, opening(request_id, sender), instance=INSTANCE)

    with db.session() as session:
        assert transactions.fail_unconfirmed(session, requests=set(owed), instance=INSTANCE) == len(owed)
    failed = {(r, c) for (r, c, _), status in statuses(db).items() if status == Status.FAILED}
    assert failed == set(owed)


# -- through the gateway ------------------------------------------------------------------------------

PARTNER_2 = {**PARTNER, "client_id": "partner-2", "name": "Partner two", "password_env": "P2_PASSWORD"}


@pytest.fixture
def passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P1_PASSWORD", PASSWORD)
    monkeypatch.setenv("P2_PASSWORD", PASSWORD)


def rows(hub: Any) -> dict[str | None, Transaction]:
    """The rows of the shared request id, by client."""
    with hub.runtime.db.session() as session:
        found = session.scalars(select(Transaction).where(Transaction.request_id == SHARED)).all()
    return {t.client_id: t for t in found}


@pytest.mark.usefixtures("passwords")
@pytest.mark.parametrize("sender", ["partner-2", None], ids=["another-client", "no-client"])
@pytest.mark.parametrize("at_once", [True, False], ids=["at-once", "by-a-heartbeat"])
def test_a_request_id_sent_again_by_another_does_not_fail_the_first_senders_request_in_flight(
    make_hub: Any,
    wire: WireUpstream,
    monkeypatch: pytest.MonkeyPatch,
    sender: str | None,
    at_once: bool,
) -> None:
    """partner-1's request is in flight (its row Processing, its close held back) when ``sender``
    (another client, or none on a public channel) sends the same ``X-Request-ID`` and the writer
    commits its open but stops before confirming it: the sender gets a 503 and its own row is
    failed, at once or, the database refusing that, by a heartbeat; partner-1's stays Processing
    and is closed as it should be."""
    wire.answer("/med/first", mediator_reply())
    config = {
        "clients": [PARTNER, PARTNER_2],
        "channels": [
            channel("med", r"/med/.*", wire.url),
            channel("open", r"/open/.*", wire.url, public=True, allowed_roles=[]),
        ],
    }
    hub = make_hub(config, instance_heartbeat_s=0.2)
    writer = hub.runtime.log_writer
    sent_again = threading.Event()

    async def open_(open_: Any, opening: transactions.Opening) -> Any:
        opened = await open_(opening)
        if opening.client_id == sender:
            raise LogUnavailable("the transaction log writer stopped before confirming this write")
        return opened

    async def close(close_: Any, *args: Any) -> None:
        await asyncio.to_thread(sent_again.wait, 30)  # partner-1's request stays in flight till then
        await close_(*args)

    monkeypatch.setattr(writer, "open", functools.partial(open_, writer.open))
    monkeypatch.setattr(writer, "close", functools.partial(close, writer.close))
    if not at_once:  # the database refuses the first try: the request is owed to a heartbeat
        refused = threading.Event()

        def refuse_once(fail: Any, *args: Any, **kwargs: Any) -> int:
            if not refused.is_set():
                refused.set()
                raise OperationalError("UPDATE transactions …", None, Exception("connection refused"))
            return int(fail(*args, **kwargs))

        monkeypatch.setattr(
            transactions, "fail_unconfirmed", functools.partial(refuse_once, transactions.fail_unconfirmed)
        )

    first: list[httpx.Response] = []
    in_flight = threading.Thread(
        target=lambda: first.append(
            httpx.get(
                f"{hub.url}/med/first",
                auth=("partner-1", PASSWORD),
                headers={"X-Request-ID": SHARED},
                timeout=30,
            )
        )
    )
    in_flight.start()
    try:
        wait_for(lambda: "partner-1" in rows(hub), "partner-1's request is in flight")
        auth = ("partner-2", PASSWORD) if sender else None
        path = "/med/again" if sender else "/open/again"
        again = httpx.get(f"{hub.url}{path}", auth=auth, headers={"X-Request-ID": SHARED}, timeout=30)
        assert again.status_code == 503 and again.headers["x-request-id"] == SHARED

        if not at_once:  # owed to a heartbeat, which forgets the request once it has failed its row
            assert refused.is_set()
            wait_for(lambda: not writer.unconfirmed, "a heartbeat failed the sender's row")
        assert not writer.unconfirmed
        found = rows(hub)
        assert found[sender].status == Status.FAILED and found[sender].error["message"].startswith(
            UNCONFIRMED
        )
        assert found["partner-1"].status == Status.PROCESSING, "the first sender's request is still in flight"
    finally:
        sent_again.set()
        in_flight.join(30)

    [answer] = first
    assert answer.status_code == 200
    assert rows(hub)["partner-1"].status == Status.SUCCESSFUL
