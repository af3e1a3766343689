"""What the log must neither choke on nor keep: NUL characters and integers past 64 bits, a close
the database refuses, an unexpected error mid-request, bodies on bodiless statuses, redaction that
cannot read a body, credentials in query strings."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from hub import json_text
from hub.channels.schemas import BodyPolicy
from hub.db.session import Database
from hub.gateway import pipeline
from hub.gateway.body_policy import (
    stored_body,
    stored_orchestration,
    stored_query,
    stored_reply_fields,
    stored_url,
)
from hub.gateway.log_process import Close, GroupCommitter, writer_database
from hub.gateway.log_writer import LogUnavailable
from hub.mediators.response import MediatorResponse
from hub.outbox.models import Delivery
from hub.outbox.service import DeliverySpec
from hub.transactions.models import Status, Transaction
from tests.conftest import PARTNER, PASSWORD, channel
from tests.gateway.conftest import WireUpstream, mediator_reply
from tests.gateway.test_log_writer import CLOSING, opening

REDACTING = BodyPolicy(redact_fields=["nationalId"])
BIG = 10**29  # past 64 bits: orjson refuses to write it


# -- JSON text ------------------------------------------------------------------------------------------


def test_json_text_keeps_every_digit_and_writes_datetimes_as_orjson_does():
    at = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert json_text.dumps({"n": BIG, "at": at, "é": [1.5, None]}) == (
        b'{"n":100000000000000000000000000000,"at":"2024-05-06T07:08:09.123456+00:00","\xc3\xa9":[1.5,null]}'
    )
    assert orjson.dumps(at) == b'"2024-05-06T07:08:09.123456+00:00"'


@pytest.mark.parametrize(
    "text",
    [
        '{"iccid":89014103211118510720}',
        '{"n":-9223372036854775809}',
        "[18446744073709551616, 1.25]",
        '{"id":"12345678901234567890","n":1}',
    ],
    ids=["past-unsigned-64", "past-signed-64", "in-array", "digits-in-text"],
)
def test_json_text_reads_every_digit_of_an_integer_past_64_bits(text):
    expected = json.loads(text)
    assert json_text.loads(text) == expected and json_text.loads(text.encode()) == expected
    assert json_text.loads(b"\xef\xbb\xbf" + text.encode()) == expected


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        (r'{"a":"x\u0000y"}', r'{"a":"x\ufffdy"}'),
        (r'{"a":"x\\u0000y"}', r'{"a":"x\\u0000y"}'),  # an escaped backslash, then the text u0000
        (r'{"a":"x\\\u0000y"}', r'{"a":"x\\\ufffdy"}'),
        (r'{"\u0000":"\u0000"}', r'{"\ufffd":"\ufffd"}'),
    ],
    ids=["escape", "escaped-backslash", "backslash-then-escape", "key-and-value"],
)
def test_json_stored_never_carries_a_nul_escape(text, stored):
    assert json_text.without_nul(text) == stored


# -- bodies and queries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "policy", "expected"),
    [
        (
            b'\xef\xbb\xbf{"nationalId":"N1","a":1}',
            "application/json",
            REDACTING,
            ('{"nationalId":"***","a":1}', False),
        ),
        (
            b'{"nationalId":"N1","v":NaN}',
            "application/json",
            REDACTING,
            ('{"nationalId":"***","v":null}', False),
        ),
        (b'{"nationalId":"N1"}', "text/plain", REDACTING, ('{"nationalId":"***"}', False)),
        (b'{"nationalId":"N1"}', None, REDACTING, ('{"nationalId":"***"}', False)),
        (b"<p><nationalId>N1</nationalId></p>", "application/xml", REDACTING, (None, False)),
        (b"[" * 600 + b'{"nationalId":"N1"}' + b"]" * 600, "application/json", REDACTING, (None, False)),
        (b"plain words", "text/plain", REDACTING, ("plain words", True)),
        (b'{"a":1}', "application/json", REDACTING, ('{"a":1}', True)),
        (b"a\x00b", "text/plain", BodyPolicy(), (None, False)),
        (
            b'{"NATIONALID":"N1","NationalId":"N2"}',
            None,
            REDACTING,
            ('{"NATIONALID":"***","NationalId":"***"}', False),
        ),
        (b"NATIONALID=N1", "text/plain", REDACTING, (None, False)),
    ],
    ids=[
        "json-after-a-bom",
        "json-with-nan",
        "json-as-text-plain",
        "json-without-content-type",
        "not-json-naming-a-field",
        "json-too-deep-to-walk",
        "not-json-naming-no-field",
        "json-without-the-fields",
        "nul-character",
        "json-key-in-any-case",
        "not-json-naming-a-field-in-any-case",
    ],
)
def test_stored_bodies_fail_closed(body, content_type, policy, expected):
    assert stored_body(body, policy, store=True) == expected


@pytest.mark.parametrize(
    ("query", "stored"),
    [
        ("", ""),
        ("a=1&b=2", "a=1&b=2"),
        ("access_token=SECRET&nationalId=NID999&x=1", "access_token=***&nationalId=***&x=1"),
        ("API_KEY=k&Signature=s&sig=t&keys=kept", "API_KEY=***&Signature=***&sig=***&keys=kept"),
        ("access%5Ftoken=S&client+secret=c&password", "access%5Ftoken=***&client+secret=c&password"),
        (
            "nationalId:exact=N1&subject:Patient.nationalId=N2&code:text=flu",
            "nationalId:exact=***&subject:Patient.nationalId=***&code:text=flu",
        ),
    ],
    ids=[
        "none",
        "nothing-to-mask",
        "credential-and-field",
        "any-case",
        "encoded-names",
        "fhir-modifier-chain",
    ],
)
def test_stored_queries_mask_credentials_and_configured_fields(query, stored):
    assert stored_query(query, REDACTING) == stored
    assert stored_url(f"http://registry:8080/fhir/Patient?{query}", REDACTING).partition("?")[2] == stored


def test_a_mediators_reported_queries_are_stored_masked():
    reported = {
        "name": "cr-lookup",
        "request": {
            "method": "GET",
            "path": "/Patient?nationalId=NID999",
            "querystring": "nationalId=NID999&access_token=SECRET&x=1",
            "url": "http://cr:8080/Patient?token=SECRET&x=1",
        },
    }
    stored = stored_orchestration(reported, REDACTING)["request"]
    assert stored["path"] == "/Patient?nationalId=***"
    assert stored["querystring"] == "nationalId=***&access_token=***&x=1"
    assert stored["url"] == "http://cr:8080/Patient?token=***&x=1"


@pytest.mark.parametrize(
    ("error", "stored"),
    [
        (
            {"message": "m", "stack": "s", "nationalId": "N"},
            {"message": "m", "stack": "s", "nationalId": "***"},
        ),
        ("timed out", {"message": "timed out"}),
        ([1, {"nationalId": "N"}], {"message": '[1,{"nationalId":"***"}]'}),
        (BIG, {"message": str(BIG)}),
        (None, None),
    ],
    ids=["object", "text", "array", "big-number", "none"],
)
def test_a_mediator_error_is_stored_as_openhim_keeps_it(error, stored):
    reply = MediatorResponse.model_validate({"response": {"status": 500}, "error": error})
    assert stored_reply_fields(reply, REDACTING)["error"] == stored


# -- a close the database refuses -----------------------------------------------------------------------


URN_REFUSED = {
    "sqlite": [
        "CREATE TRIGGER urn_length BEFORE UPDATE OF mediator_urn ON transactions"
        " WHEN length(NEW.mediator_urn) > 300 BEGIN SELECT RAISE(ABORT, 'urn too long'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION urn_length() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " IF length(NEW.mediator_urn) > 300 THEN RAISE EXCEPTION 'urn too long' USING ERRCODE = '22001';"
        " END IF; RETURN NEW; END $$",
        "CREATE TRIGGER urn_length BEFORE UPDATE OF mediator_urn ON transactions"
        " FOR EACH ROW EXECUTE FUNCTION urn_length()",
    ],
}


@pytest.mark.parametrize("deliveries", [0, 1], ids=["without-deliveries", "with-deliveries"])
def test_a_close_the_database_refuses_is_stored_bare(db: Database, deliveries: int) -> None:
    """A trigger refuses an urn over 300 characters as a value too long (as PostgreSQL's
    VARCHAR(300) did before migration 0019). The close is stored without its documents; the one
    grouped with it, in full."""
    with db.engine.begin() as connection:
        for statement in URN_REFUSED[db.dialect]:
            connection.exec_driver_sql(statement)
    writer_db = writer_database(db.url)
    committer = GroupCommitter(writer_db, "safety-test")
    [((refused_id, refused_at), _), ((fine_id, fine_at), _)] = committer.commit([opening("a"), opening("b")])
    spec = DeliverySpec("second", "POST", "http://127.0.0.1:9/x", {}, b"{}", 5.0, 3)
    unstorable = replace(CLOSING, mediator_urn="u" * 301, properties={"nationalId": "N1"})
    outcomes = committer.commit(
        [
            Close(refused_id, unstorable, refused_at, [spec] * deliveries),
            Close(fine_id, replace(CLOSING, mediator_urn="urn:fine"), fine_at, []),
        ]
    )
    committer.close()
    writer_db.dispose()

    assert outcomes == [(None, None), (None, None)]
    with db.session() as session:
        refused, fine = (session.get(Transaction, i) for i in (refused_id, fine_id))
        queued = session.scalars(
            select(Delivery.route_name).where(Delivery.transaction_id == refused_id)
        ).all()
    assert (refused.status, refused.response_status, queued) == (
        Status.SUCCESSFUL,
        200,
        ["second"] * deliveries,
    )
    assert (refused.response_headers, refused.response_body, refused.mediator_urn) == (None, None, None)
    assert (refused.orchestrations, refused.properties) == ([], {})
    assert refused.error["message"].startswith("the hub could not store this transaction's outcome in full (")
    assert refused.error["message"].split("(")[1].split(")")[0] in {"DataError", "IntegrityError"}
    assert "uuu" not in refused.error["message"], "the refused values are not quoted"
    assert (fine.mediator_urn, fine.orchestrations) == ("urn:fine", [{"name": "up"}])


# -- over HTTP ------------------------------------------------------------------------------------------


def start(make_hub: Any, wire: WireUpstream) -> Any:
    med = channel("med", r"/med/.*", wire.url, body_policy={"redact_fields": ["nationalId"]})
    return make_hub({"clients": [PARTNER], "channels": [med]})


def logged(hub: Any, response: Any) -> Transaction:
    with hub.runtime.db.session() as session:
        return session.get(Transaction, int(response.headers["x-hub-transaction-id"]))


@pytest.mark.usefixtures("partner_password")
def test_values_the_database_would_refuse_do_not_fail_a_request(make_hub, wire):
    orchestration = {
        "name": "lookup",
        "request": {"method": "POST", "body": {"n": BIG}},
        "response": {"status": 200, "body": "x\x00y"},
        "note": "a\x00b",
    }
    query = "access_token=SECRET&nationalId=NID999&x=1"
    wire.answer(
        f"/med/odd?{query}",  # the upstream gets the query as sent
        mediator_reply(
            response={"status": 200, "headers": {"content-type": "application/json"}, "body": {"n": BIG}},
            properties={"n": BIG, "note": "a\x00b"},
            orchestrations=[orchestration],
        ),
    )
    wire.answer("/med/bodiless", mediator_reply(response={"status": 204, "body": "not for the client"}))
    hub = start(make_hub, wire)
    with hub.client("partner-1", PASSWORD) as c:
        odd = c.post(f"/med/odd?{query}", content=b"a\x00b", headers={"content-type": "text/plain"})
        bodiless = c.get("/med/bodiless")
    with hub.admin() as admin:
        registered = admin.post(
            "/mediators",
            json={
                "urn": "urn:mediator:big",
                "version": "1.0.0",
                "name": "Big numbers",
                "endpoints": [{"name": "m", "host": "127.0.0.1", "port": 8600, "type": "http"}],
                "configDefs": [{"param": "n", "type": "number"}],
                "config": {"n": BIG},
            },
        )

    assert odd.status_code == 200 and odd.content == b'{"n":100000000000000000000000000000}'
    tx = logged(hub, odd)
    assert (tx.status, tx.request_body, tx.request_stored) == (Status.SUCCESSFUL, None, False)
    assert tx.query == "access_token=***&nationalId=***&x=1"
    assert tx.properties == {"note": "a\ufffdb", "n": BIG}  # every digit, on both databases
    primary, lookup = tx.orchestrations
    assert lookup["note"] == "a\ufffdb" and "body" not in lookup["response"]
    sent, answered = (datetime.fromisoformat(primary[p]["timestamp"]) for p in ("request", "response"))
    assert (answered - sent).total_seconds() * 1000 == pytest.approx(primary["duration_ms"], abs=0.01)

    assert bodiless.status_code == 204 and bodiless.content == b""
    empty = logged(hub, bodiless)
    assert (empty.status, empty.response_status, empty.response_body) == (Status.SUCCESSFUL, 204, None)
    assert registered.status_code in (200, 201), registered.text


@pytest.mark.usefixtures("partner_password")
def test_an_unexpected_error_closes_its_transaction_as_failed(make_hub, wire, monkeypatch):
    def broken(*_: Any) -> None:
        raise RuntimeError("a bug that quotes NID999")

    monkeypatch.setattr(pipeline, "stored_reply_fields", broken)
    wire.answer("/med/broken", mediator_reply())
    hub = start(make_hub, wire)
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/med/broken")

    assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
    with hub.runtime.db.session() as session:
        [tx] = session.scalars(select(Transaction)).all()
    assert (tx.status, tx.response_status) == (Status.FAILED, 500)
    # the answer names the request, as every other problem does, so the log line can be found
    assert r.headers["x-request-id"] == r.json()["request_id"] == tx.request_id
    assert "RuntimeError" in tx.error["message"] and "NID999" not in json.dumps(tx.error)


async def _refused_unless_failed(
    close: Any, tx_id: int, closing: Any, started: int, deliveries: list[Any]
) -> None:
    """As a close the database refuses even bare: only the Failed close after it goes through."""
    if closing.status != Status.FAILED:
        raise RuntimeError("the database refused the close")
    await close(tx_id, closing, started, deliveries)


async def _committed_then_stopped(
    close: Any, tx_id: int, closing: Any, started: int, deliveries: list[Any]
) -> None:
    """As a writer process that committed the close and died before answering."""
    await close(tx_id, closing, started, deliveries)
    raise LogUnavailable("the transaction log writer stopped before confirming this write")


async def _stopped_before_committing(
    close: Any, tx_id: int, closing: Any, started: int, deliveries: list[Any]
) -> None:
    """As a writer process that died before it committed the close."""
    raise LogUnavailable("the transaction log writer stopped before confirming this write")


UNCONFIRMED = "the hub could not confirm this request's log"


@pytest.mark.usefixtures("partner_password")
@pytest.mark.parametrize(
    ("close_as", "answer", "kept"),
    [
        (_refused_unless_failed, 500, (Status.FAILED, 500)),  # not left Processing
        (_committed_then_stopped, 503, (Status.SUCCESSFUL, 200)),  # not overwritten as Failed
        (_stopped_before_committing, 503, (Status.FAILED, None)),  # not left Processing until a restart
    ],
    ids=["refused", "committed-then-stopped", "stopped-before-committing"],
)
def test_a_close_that_fails_leaves_the_truest_record(make_hub, wire, monkeypatch, close_as, answer, kept):
    wire.answer("/med/done", mediator_reply())
    hub = start(make_hub, wire)
    writer = hub.runtime.log_writer
    monkeypatch.setattr(writer, "close", functools.partial(close_as, writer.close))
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/med/done")

    assert wire.paths[-1] == "/med/done", "the upstream was called"
    assert r.status_code == answer and r.headers["content-type"] == "application/problem+json"
    with hub.runtime.db.session() as session:
        [tx] = session.scalars(select(Transaction)).all()
    assert (tx.status, tx.response_status) == kept
    if close_as is _stopped_before_committing:
        assert tx.error["message"].startswith(UNCONFIRMED)


@pytest.mark.usefixtures("partner_password")
def test_an_open_committed_by_a_writer_that_stopped_before_answering_is_failed_not_left_processing(
    make_hub, wire, monkeypatch
):
    """The client gets a 503 and the upstream is not called; the row the writer did commit is
    failed at once through the hub's own connection (before, it stayed Processing until a restart)."""

    async def committed_then_stopped(open_: Any, opening: Any) -> Any:
        await open_(opening)
        raise LogUnavailable("the transaction log writer stopped before confirming this write")

    hub = start(make_hub, wire)
    writer = hub.runtime.log_writer
    monkeypatch.setattr(writer, "open", functools.partial(committed_then_stopped, writer.open))
    calls = len(wire.paths)
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/med/unconfirmed")

    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert len(wire.paths) == calls, "nothing was forwarded"
    with hub.runtime.db.session() as session:
        [tx] = session.scalars(select(Transaction)).all()
    assert (tx.status, tx.request_id) == (Status.FAILED, r.headers["x-request-id"])
    assert tx.error["message"].startswith(UNCONFIRMED)
