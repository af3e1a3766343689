"""What crosses the gateway as it is and what is made safe: an upstream's header values, and the
request path (matched decoded, forwarded and logged as the client sent it)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hub.transactions.models import Transaction
from tests.conftest import PARTNER, PASSWORD, channel
from tests.gateway.conftest import WireUpstream, http_response

pytestmark = pytest.mark.usefixtures("partner_password")


def start(make_hub: Any, *channels: dict[str, Any]) -> Any:
    return make_hub({"clients": [PARTNER], "channels": list(channels)})


def logged(hub: Any, response: Any) -> Transaction:
    with hub.runtime.db.session() as session:
        tx_id = int(response.headers["x-hub-transaction-id"])
        return session.scalars(select(Transaction).where(Transaction.id == tx_id)).one()


def test_upstream_header_values_outside_printable_ascii_are_percent_encoded_and_logged_as_sent(
    make_hub, wire: WireUpstream
):
    wire.answer(
        "/odd-headers",
        http_response(
            b"{}",
            b"content-type: application/json",
            "x-name: €".encode(),  # UTF-8
            b"x-latin: caf\xe9",  # a Latin-1 byte, not UTF-8
            b"x-control: a\x01b",
            b"x-plain: as it is",
        ),
    )
    hub = start(make_hub, channel("odd", r"/odd-headers", wire.url))
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/odd-headers")
    sent = {"x-name": "%E2%82%AC", "x-latin": "caf%E9", "x-control": "a%01b", "x-plain": "as it is"}
    assert r.status_code == 200 and r.json() == {}
    assert {k: r.headers[k] for k in sent} == sent
    tx = logged(hub, r)
    assert (tx.status, tx.response_status) == ("Successful", 200)
    assert {k: tx.response_headers[k] for k in sent} == sent


def test_a_utf8_request_header_value_is_forwarded_byte_for_byte_and_logged_as_its_text(
    make_hub, upstream, upstream_log
):
    hub = start(make_hub, channel("names", r"/names", upstream))
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/names", headers={"x-patient-name": "José".encode(), "x-latin": b"caf\xe9"})
    [received] = upstream_log()
    # http.server reads header bytes as Latin-1: encoding back gives the bytes that arrived
    assert received["headers"]["x-patient-name"].encode("latin-1") == "José".encode()
    stored = logged(hub, r).request_headers
    assert (stored["x-patient-name"], stored["x-latin"]) == ("José", "café")


@pytest.mark.parametrize(
    ("sent", "forwarded"),
    [
        ("/red/a%2Fb", "/red/a%2Fb"),
        ("/red/caf%C3%A9%20menu", "/red/caf%C3%A9%20menu"),
        ("/red/100%25", "/red/100%25"),
        ("/red/plain", "/red/plain"),
    ],
    ids=["encoded-slash", "encoded-utf8-and-space", "encoded-percent", "plain"],
)
def test_the_path_is_forwarded_and_logged_as_the_client_sent_it(
    make_hub, upstream, upstream_log, sent, forwarded
):
    hub = start(make_hub, channel("red", r"/red/.*", upstream))
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get(sent)
    assert r.status_code == 200
    assert [seen["path"] for seen in upstream_log()] == [forwarded]
    assert logged(hub, r).path == forwarded


def test_a_path_transform_and_a_rerun_work_on_the_path_as_sent(make_hub, upstream, upstream_log):
    route = {"name": "blue", "url": upstream, "primary": True, "path_transform": "s/^\\/red/\\/blue/"}
    hub = start(make_hub, channel("red", r"/red/.*", upstream, routes=[route]))
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/red/a%2Fb")
    with hub.admin() as admin:
        rerun = admin.post(f"/admin/transactions/{r.headers['x-hub-transaction-id']}/rerun")
    assert rerun.status_code == 200 and rerun.json()["status"] == "Successful"
    assert [seen["path"] for seen in upstream_log()] == ["/blue/a%2Fb", "/blue/a%2Fb"]


def test_channels_match_the_decoded_path(make_hub, upstream, upstream_log):
    """A pattern is written against the path as it reads, so ``%20`` matches a space; the upstream
    still gets the encoded path, whose decoding is exactly what the pattern approved."""
    hub = start(
        make_hub,
        channel("docs", r"/docs/my file", upstream),
        channel("one-segment", r"/item/[^/]+", upstream),
    )
    with hub.client("partner-1", PASSWORD) as c:
        spaced = c.get("/docs/my%20file")
        smuggled = c.get("/item/a%2Fadmin")
    assert spaced.status_code == 200
    assert smuggled.status_code == 404, "an encoded slash is a slash to the pattern"
    assert [seen["path"] for seen in upstream_log()] == ["/docs/my%20file"]


def test_a_header_on_several_lines_keeps_every_line(make_hub, wire: WireUpstream, upstream, upstream_log):
    """An upstream's ``set-cookie`` lines each reach the client (they cannot be joined); the log and
    the upstream get one field per name, its values joined as RFC 9110 allows."""
    wire.answer(
        "/lines",
        http_response(
            b"{}",
            b"content-type: application/json",
            b"set-cookie: a=1; Path=/",
            b"set-cookie: b=2; Path=/",
            b"x-multi: one",
            b"x-multi: two",
        ),
    )
    hub = start(make_hub, channel("lines", r"/lines", wire.url), channel("echo", r"/echo", upstream))
    with hub.client("partner-1", PASSWORD) as c:
        r = c.get("/lines")
        echoed = c.get("/echo", headers=[("x-trace", "first"), ("x-trace", "second"), ("accept", "a/b")])
    assert r.status_code == 200
    assert r.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert r.headers.get_list("x-multi") == ["one", "two"]
    stored = logged(hub, r).response_headers
    assert (stored["set-cookie"], stored["x-multi"]) == ("***", "one, two")
    assert echoed.status_code == 200
    assert upstream_log()[0]["headers"]["x-trace"] == "first, second"
    assert logged(hub, echoed).request_headers["x-trace"] == "first, second"
