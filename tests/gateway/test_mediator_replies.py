"""Mediator replies (``application/json+openhim``) over real HTTP: the headers the client gets, the
status the transaction closes with, and what of the orchestrations is stored and for how long."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hub.db.session import Database
from hub.instances.service import Orphans
from hub.transactions import service as transactions
from hub.transactions.models import Status, Transaction
from tests.conftest import PARTNER, PASSWORD, channel
from tests.gateway.conftest import WireUpstream, mediator_reply

pytestmark = pytest.mark.usefixtures("partner_password")


def start(make_hub: Any, wire: WireUpstream, **extra: Any) -> Any:
    return make_hub({"clients": [PARTNER], "channels": [channel("med", r"/med/.*", wire.url, **extra)]})


def logged(hub: Any, response: Any) -> Transaction:
    with hub.runtime.db.session() as session:
        tx_id = int(response.headers["x-hub-transaction-id"])
        return session.scalars(select(Transaction).where(Transaction.id == tx_id)).one()


def test_a_mediator_reply_loses_the_framing_headers_it_copied_from_its_upstream(make_hub, wire):
    body = '{"resourceType":"Bundle","total":12345}'
    copied = {
        "Content-Length": "5",
        "Transfer-Encoding": "chunked",
        "Connection": "close",
        "Server": "mediator-upstream",
        "X-Kept": "yes",
    }
    wire.answer("/med/copied", mediator_reply(response={"status": 200, "headers": copied, "body": body}))
    hub = start(make_hub, wire)
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/med/copied")
    assert r.status_code == 200 and r.text == body
    assert r.headers["content-length"] == str(len(body)) and "transfer-encoding" not in r.headers
    assert r.headers["x-kept"] == "yes" and r.headers["content-type"] == "text/plain"
    stored = logged(hub, r).response_headers
    assert stored == {"x-kept": "yes", "content-type": "text/plain"}


def test_mediator_headers_http_cannot_carry_are_dropped_or_percent_encoded(make_hub, wire):
    headers = {"bad name": "x", "x-line": "a\r\nx-injected: 1", "x-name": "€", "x-number": 7, "x-none": None}
    wire.answer(
        "/med/odd", mediator_reply(response={"status": 201, "headers": headers, "body": {"ok": True}})
    )
    hub = start(make_hub, wire)
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/med/odd")
    assert r.status_code == 201 and r.json() == {"ok": True}
    assert not {"x-injected", "bad name", "x-none"} & set(r.headers)
    assert r.headers["x-line"] == "a%0D%0Ax-injected: 1"
    assert r.headers["x-name"] == "%E2%82%AC" and r.headers["x-number"] == "7"
    tx = logged(hub, r)
    assert (tx.status, tx.response_status) == ("Successful", 201)
    assert {k: tx.response_headers[k] for k in ("x-line", "x-name")} == {
        "x-line": "a%0D%0Ax-injected: 1",
        "x-name": "%E2%82%AC",
    }, "the log keeps the headers as the client got them"


@pytest.mark.parametrize(
    ("reported", "http_status", "expected"),
    [
        ("Processing", 200, Status.SUCCESSFUL),
        ("Processing", 404, Status.COMPLETED),
        ("Processing", 503, Status.FAILED),
        ("Pending Async", 202, Status.SUCCESSFUL),
        ("Completed with error(s)", 200, Status.COMPLETED_WITH_ERRORS),
    ],
    ids=["processing-2xx", "processing-4xx", "processing-5xx", "pending-async", "final-is-kept"],
)
def test_a_finished_call_never_stays_unsettled(make_hub, wire, reported, http_status, expected):
    path = f"/med/status-{http_status}-{reported.replace(' ', '-')}"
    wire.answer(path, mediator_reply(reported, http_status=http_status))
    hub = start(make_hub, wire)
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get(path)
    assert r.status_code == http_status, "the client gets the mediator's answer as it is"
    assert logged(hub, r).status == expected
    with hub.runtime.db.session() as session:
        at_start = Orphans.now(session, hub.settings, at_start=True)
        assert transactions.recover_processing(session, at_start) == 0, "start-up would fail a finished call"


def test_a_mediator_header_given_as_a_list_is_a_line_each(make_hub, wire):
    headers = {"set-cookie": ["a=1", "b=2"], "x-multi": ["one", None, 2], "content-type": "text/plain"}
    wire.answer("/med/lines", mediator_reply(response={"status": 200, "headers": headers, "body": "ok"}))
    hub = start(make_hub, wire)
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/med/lines")
    assert r.status_code == 200 and r.text == "ok"
    assert r.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert r.headers.get_list("x-multi") == ["one", "2"]
    stored = logged(hub, r).response_headers
    assert (stored["set-cookie"], stored["x-multi"]) == ("***", "one, 2")


def test_an_informational_status_for_the_client_is_an_invalid_mediator_reply(make_hub, wire):
    wire.answer("/med/informational", mediator_reply(http_status=101))
    hub = start(make_hub, wire)
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/med/informational")
    assert r.status_code == 502 and "final HTTP status" in r.json()["detail"]
    tx = logged(hub, r)
    assert (tx.status, tx.response_status) == ("Failed", 502)


SECRET = "SECRET-ID"


def test_orchestrations_follow_the_channel_body_policy(make_hub, wire):
    big = json.dumps({"entries": ["x" * 100] * 2000})  # about 200 KB
    orchestrations = [
        {
            "name": "registry lookup",
            "request": {
                "method": "POST",
                "path": "/patients",
                "headers": {
                    "Authorization": "Basic cGFydG5lcjpzZWNyZXQ=",
                    "Content-Type": "application/json",
                },
                "body": json.dumps({"nationalId": SECRET, "name": "A"}),
                "params": {"nationalId": SECRET},
            },
            "response": {"status": 200, "headers": {"Set-Cookie": "session=abc"}, "body": big},
            "error": {"message": "slow", "nationalId": SECRET},
            "matched": [{"nationalId": SECRET, "score": 0.9}],
        },
        {
            "name": "document body",
            "request": {"method": "PUT", "body": {"patient": {"nationalId": SECRET}}},
            "response": {"status": 204},
        },
    ]
    wire.answer(
        "/med/orchestrated",
        mediator_reply(
            orchestrations=orchestrations,
            properties={"patient": {"nationalId": SECRET}, "matched": True},
            error={"message": "partial match", "nationalId": SECRET},
        ),
    )
    policy = {"redact_fields": ["nationalId"], "redact_headers": ["x-patient"], "max_stored_bytes": 1000}
    hub = start(make_hub, wire, body_policy=policy)
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/med/orchestrated")
    assert r.status_code == 200
    row = logged(hub, r)
    assert row.properties == {"patient": {"nationalId": "***"}, "matched": True}
    assert SECRET not in json.dumps(row.error) and "partial match" in row.error["message"]
    primary, lookup, document = row.orchestrations
    assert primary["name"] == "med-primary"
    assert SECRET not in json.dumps(lookup) + json.dumps(document)
    assert lookup["request"]["headers"] == {"authorization": "***", "content-type": "application/json"}
    assert json.loads(lookup["request"]["body"]) == {"nationalId": "***", "name": "A"}
    assert lookup["response"]["headers"] == {"set-cookie": "***"}
    assert lookup["request"]["params"] == {"nationalId": "***"} and lookup["request"]["path"] == "/patients"
    assert lookup["error"] == {"message": "slow", "nationalId": "***"}
    assert lookup["matched"] == [{"nationalId": "***", "score": 0.9}]
    assert lookup["response"]["body"] == big[:1000]
    assert json.loads(document["request"]["body"]) == {"patient": {"nationalId": "***"}}
    assert document["response"] == {"status": 204, "headers": {}}


def test_orchestration_bodies_are_left_out_when_the_channel_stores_none(make_hub, wire):
    orchestration = {
        "name": "lookup",
        "request": {"method": "GET", "body": "asked"},
        "response": {"status": 200, "body": "answered"},
    }
    wire.answer("/med/unstored", mediator_reply(orchestrations=[orchestration]))
    policy = {"store_request": False, "store_response": False}
    hub = start(make_hub, wire, body_policy=policy)
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/med/unstored")
    [_, lookup] = logged(hub, r).orchestrations
    assert "body" not in lookup["request"] and "body" not in lookup["response"]
    assert lookup["response"]["status"] == 200


def _logged_row(db: Database, orchestrations: list[Any], *, age: timedelta) -> int:
    opening = transactions.Opening("r", "POST", "/in", "", None, None, "c", {}, "asked", 5, True)
    with db.session() as session:
        tx_id, started = transactions.open_transaction(session, opening)
        closing = transactions.Closing(Status.SUCCESSFUL, 200, {}, "answered", orchestrations, {})
        transactions.close_transaction(session, tx_id, closing, started)
        session.execute(
            Transaction.__table__.update().where(Transaction.id == tx_id).values(started_at=started - age)
        )
    return tx_id


def test_culling_strips_orchestration_bodies_in_the_database(db):
    orchestrations = [
        {"name": "primary", "request": {"method": "POST", "url": "http://u/x"}, "response": {"status": 200}},
        {
            "name": "lookup",
            "request": {"method": "POST", "headers": {"a": "b"}, "body": '{"nationalId": "1"}'},
            "response": {"status": 200, "body": "answer", "timestamp": "t"},
        },
        {"name": "only a request body", "request": {"body": "x"}},
        {"name": "unusual", "request": "not an object", "response": None},
    ]
    old = _logged_row(db, orchestrations, age=timedelta(days=40))
    empty = _logged_row(db, [], age=timedelta(days=40))
    recent = _logged_row(db, orchestrations, age=timedelta(days=1))
    with db.session() as session:
        assert transactions.cull_bodies(session, older_than=timedelta(days=30)) == 2
    with db.session() as session:
        rows = {r.id: r for r in session.scalars(select(Transaction))}
    assert rows[old].orchestrations == [
        orchestrations[0],
        {
            "name": "lookup",
            "request": {"method": "POST", "headers": {"a": "b"}},
            "response": {"status": 200, "timestamp": "t"},
        },
        {"name": "only a request body", "request": {}},
        orchestrations[3],
    ]
    assert (rows[old].request_body, rows[old].response_body, rows[old].bodies_culled) == (None, None, True)
    assert rows[empty].orchestrations == [] and rows[empty].bodies_culled
    assert rows[recent].orchestrations == orchestrations and not rows[recent].bodies_culled


@pytest.mark.parametrize(
    ("reported", "http_status", "expected"),
    [
        (
            "Completed with Errors",
            200,
            Status.COMPLETED_WITH_ERRORS,
        ),  # as OpenHIM's mediator template documents it
        ("completed with errors", 200, Status.COMPLETED_WITH_ERRORS),
        ("successful", 404, Status.SUCCESSFUL),
        ("FAILED", 200, Status.FAILED),
    ],
    ids=["template-spelling", "lower-case", "known-word", "upper-case"],
)
def test_a_known_status_in_another_spelling_is_the_mediators_status(
    make_hub, wire, reported, http_status, expected
):
    wire.answer("/med/spelled", mediator_reply(reported, http_status=http_status))
    hub = start(make_hub, wire)
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/med/spelled")
    assert (r.status_code, r.text) == (http_status, "{}"), "the client gets the mediator's answer"
    tx = logged(hub, r)
    assert (tx.status, tx.status_reported) == (expected, True)


@pytest.mark.parametrize(("http_status", "expected"), [(200, Status.SUCCESSFUL), (503, Status.FAILED)])
def test_an_unknown_status_counts_as_none_given_and_is_logged(make_hub, wire, caplog, http_status, expected):
    unknown = "Finished " + "x" * 100
    wire.answer("/med/unknown", mediator_reply(unknown, http_status=http_status))
    hub = start(make_hub, wire)
    with caplog.at_level(logging.WARNING, "hub.mediators"), hub.client("partner-1", PASSWORD) as c:
        r = c.get("/med/unknown")
    assert (r.status_code, r.text) == (http_status, "{}"), "the client gets the mediator's answer, not a 502"
    tx = logged(hub, r)
    assert (tx.status, tx.status_reported) == (expected, False), "the status comes from HTTP"
    [record] = [r for r in caplog.records if r.name == "hub.mediators"]
    assert (record.mediator, record.reported) == ("urn:mediator:wire-test", unknown[:64])


def test_unreadable_orchestrations_and_properties_do_not_cost_the_client_its_answer(make_hub, wire, caplog):
    orchestrations = [
        {"name": "no status", "response": {"body": "asked again later"}},
        {"name": "empty response", "response": {}},
        {"name": "status 0", "response": {"status": 0}},
        {"name": "headers as text", "request": {"method": "GET", "headers": "Authorization: Basic eA=="}},
        {"request": {"method": "GET"}},
        {"name": "status as a word", "response": {"status": "Fine" + SECRET}},
    ]
    wire.answer("/med/loose", mediator_reply(orchestrations=orchestrations, properties=[{"a": 1}]))
    hub = start(make_hub, wire)
    with caplog.at_level(logging.WARNING, "hub.mediators"), hub.client("partner-1", PASSWORD) as c:
        r = c.get("/med/loose")
    assert (r.status_code, r.text) == (200, "{}")
    tx = logged(hub, r)
    assert tx.status == Status.SUCCESSFUL and tx.properties == {"value": [{"a": 1}]}
    assert "properties" in caplog.text
    _, no_status, empty, zero, text_headers, unnamed, word = tx.orchestrations
    assert no_status["response"] == {"headers": {}, "body": "asked again later"} and empty["response"] == {
        "headers": {}
    }
    assert zero["response"]["status"] == 0
    assert text_headers["request"] == {"method": "GET", "headers": {}}
    assert text_headers["hub_notes"] == ["request.headers was not a JSON object and was left out"]
    assert unnamed["name"] == "(unnamed)"
    assert unnamed["error"]["message"].endswith("1 problem(s), first: name: Field required")
    assert word["name"] == "status as a word" and "response.status: " in word["error"]["message"]
    assert SECRET not in json.dumps(tx.orchestrations), "an unreadable value is not copied into the note"


def test_a_single_orchestration_given_without_its_array_is_kept(make_hub, wire):
    wire.answer("/med/single", mediator_reply(orchestrations={"name": "lookup", "response": {"status": 200}}))
    hub = start(make_hub, wire)
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/med/single")
    assert r.status_code == 200
    assert [o["name"] for o in logged(hub, r).orchestrations] == ["med-primary", "lookup"]


def test_an_invalid_reply_says_where_its_problem_is(make_hub, wire):
    wire.answer("/med/invalid", mediator_reply(response={"status": "ok", "body": SECRET}))
    hub = start(make_hub, wire)
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/med/invalid")
    assert r.status_code == 502
    assert r.json()["detail"] == (
        "mediator returned an invalid application/json+openhim response: 1 problem(s), first: "
        "response.status: Input should be a valid integer, unable to parse string as an integer"
    )
