"""An upstream's content codings: the hub decodes gzip and deflate, in the order they were applied,
and passes any body it cannot decode as received, with every Content-Encoding line that says how to
read it; a HEAD answer describes what a GET would get."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import httpx
import pytest

from tests.conftest import PARTNER, PASSWORD, channel
from tests.gateway.conftest import WireUpstream, http_response
from tests.gateway.test_headers_and_paths import logged

pytestmark = pytest.mark.usefixtures("partner_password")

RESOURCE = b'{"resourceType":"Patient","id":"p1"}'
FHIR = b"content-type: application/fhir+json"


@pytest.fixture
def wire(wire: WireUpstream, monkeypatch: pytest.MonkeyPatch) -> WireUpstream:
    """The shared wire upstream, answering HEAD too (with the bytes given, a head alone)."""
    handler = wire.server.RequestHandlerClass
    monkeypatch.setattr(handler, "do_HEAD", handler.do_GET, raising=False)
    return wire


def start(make_hub: Any, wire: WireUpstream) -> Any:
    return make_hub({"clients": [PARTNER], "channels": [channel("coded", r"/coded/.*", wire.url)]})


def encoding_lines(*codings: str) -> list[bytes]:
    return [b"content-encoding: " + coding.encode() for coding in codings]


def fetch(client: httpx.Client, method: str, path: str) -> tuple[httpx.Response, tuple[Any, ...]]:
    """The answer, and what the client got: status, Content-Encoding lines, the body undecoded."""
    with client.stream(method, path) as r:
        raw = b"".join(r.iter_raw())
    return r, (r.status_code, r.headers.get_list("content-encoding"), raw)


def test_a_head_answer_describes_what_a_get_would_get(make_hub, wire: WireUpstream):
    """RFC 9110 9.3.2: a HEAD answer has the headers a GET would, without content. The hub frames
    its own answers, so it dropped the upstream's length, and Starlette put 0 for the empty body.
    A GET of gzip content gets it decoded: its HEAD said gzip and the gzip length, which a client
    that caches or ranges by them would misread. A coding the hub passes on is described as sent."""
    gzipped = gzip.compress(RESOURCE)
    brotli = b"\x1b" + RESOURCE  # not decoded, so what the bytes are does not matter
    heads = {
        "/coded/head": (RESOURCE, []),
        "/coded/head-gz": (gzipped, ["gzip"]),
        "/coded/head-br": (brotli, ["br"]),
    }
    for path, (content, lines) in heads.items():
        get = http_response(content, FHIR, *encoding_lines(*lines))
        wire.answer(path, get[: -len(content)])  # the head of the GET answer, without its content
    wire.answer("/coded/get-gz", http_response(gzipped, FHIR, *encoding_lines("gzip")))
    hub = start(make_hub, wire)
    with hub.client("partner-1", PASSWORD) as c:
        answers = {path: fetch(c, "HEAD", path) for path in heads}
        _, get_gz_got = fetch(c, "GET", "/coded/get-gz")
    described = {path: (got, head.headers.get("content-length")) for path, (head, got) in answers.items()}
    assert described == {
        "/coded/head": ((200, [], b""), str(len(RESOURCE))),
        "/coded/head-gz": ((200, [], b""), None),
        "/coded/head-br": ((200, ["br"], b""), str(len(brotli))),
    }
    # the GET the gzip HEAD describes: decoded, with no Content-Encoding either
    assert get_gz_got == (200, [], RESOURCE)
    tx = logged(hub, answers["/coded/head"][0])
    assert (tx.status, tx.response_status, tx.response_body) == ("Successful", 200, None)
    assert tx.response_headers["content-length"] == str(len(RESOURCE))


def test_a_head_answer_without_a_length_is_passed_on_without_one(make_hub, wire: WireUpstream):
    """An upstream that would send the GET's content chunked gives its HEAD no length: the hub's
    answer must not say 0 (Starlette's length of the empty body)."""
    wire.answer(
        "/coded/head-chunked",
        b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    hub = start(make_hub, wire)
    with hub.client("partner-1", PASSWORD) as c:
        head, got = fetch(c, "HEAD", "/coded/head-chunked")
    assert got == (200, [], b"")
    assert "content-length" not in head.headers, head.headers


def test_a_body_in_a_coding_the_hub_does_not_decode_is_relayed_with_its_coding(make_hub, wire: WireUpstream):
    """br or zstd (aiohttp has neither library here) made the hub answer 502 once the upstream had
    applied the request, so a client's retry made a duplicate. The client can decode them; the log
    keeps no body, as for any body the hub cannot read as text, and says the coding."""
    bodies = {
        # what the bytes are does not matter: the hub does not decode them (this one is even UTF-8)
        "br": b"\x1b" + RESOURCE,
        "zstd": b"\x28\xb5\x2f\xfd" + RESOURCE,
    }
    for coding, body in bodies.items():
        wire.answer(
            f"/coded/{coding}", http_response(body, FHIR, *encoding_lines(coding), status=b"201 Created")
        )
    hub = start(make_hub, wire)
    with hub.client("partner-1", PASSWORD) as c:
        answers = {coding: fetch(c, "POST", f"/coded/{coding}") for coding in bodies}
    assert {coding: got for coding, (_, got) in answers.items()} == {
        coding: (201, [coding], body) for coding, body in bodies.items()
    }
    stored = {coding: logged(hub, r) for coding, (r, _) in answers.items()}
    assert {
        coding: (tx.status, tx.response_status, tx.response_body, tx.response_headers["content-encoding"])
        for coding, tx in stored.items()
    } == {coding: ("Successful", 201, None, coding) for coding in bodies}


# (Content-Encoding lines as sent, how the content was made, what the client gets: its
# Content-Encoding lines, and its body as RESOURCE or as the content sent)
SEVERAL_CODINGS = {
    "gzip-then-identity-lines": (["gzip", "identity"], gzip.compress, ["gzip", "identity"]),
    "identity-then-gzip-lines": (["identity", "gzip"], gzip.compress, ["identity", "gzip"]),
    "gzip-then-br-lines": (["gzip", "br"], lambda b: b"\x1b" + gzip.compress(b), ["gzip", "br"]),
    "gzip-twice-lines": (["gzip", "gzip"], lambda b: gzip.compress(gzip.compress(b)), []),
    "gzip-twice-a-list": (["gzip, gzip"], lambda b: gzip.compress(gzip.compress(b)), []),
    "deflate-then-gzip-lines": (["deflate", "GZIP"], lambda b: gzip.compress(zlib.compress(b)), []),
}


def test_content_encoding_on_several_lines_is_one_list_of_codings_applied_in_order(
    make_hub, wire: WireUpstream
):
    """RFC 9110 5.3 and 8.4: the lines make one list, the codings in the order they were applied.
    aiohttp decoded by one line (the last) and the hub dropped the header by another (the first),
    so a client got coded content without the header, or plain content with it, or a 502. The hub
    decodes the whole list or nothing (``identity`` names no content coding)."""
    sent = {}
    for name, (lines, make, _) in SEVERAL_CODINGS.items():
        sent[name] = make(RESOURCE)
        wire.answer(f"/coded/{name}", http_response(sent[name], FHIR, *encoding_lines(*lines)))
    hub = start(make_hub, wire)
    with hub.client("partner-1", PASSWORD) as c:
        answers = {name: fetch(c, "GET", f"/coded/{name}") for name in SEVERAL_CODINGS}
    assert {name: got for name, (_, got) in answers.items()} == {
        name: (200, passed, sent[name] if passed else RESOURCE)
        for name, (_, _, passed) in SEVERAL_CODINGS.items()
    }
    stored = {name: logged(hub, r) for name, (r, _) in answers.items()}
    assert {
        name: (tx.response_body, tx.response_headers.get("content-encoding")) for name, tx in stored.items()
    } == {
        name: (None, ", ".join(passed)) if passed else (RESOURCE.decode(), None)
        for name, (_, _, passed) in SEVERAL_CODINGS.items()
    }


def test_gzip_and_deflate_are_decoded_and_content_that_is_not_what_its_coding_says_passes_as_received(
    make_hub, wire: WireUpstream
):
    """deflate as RFC 9110 has it (zlib) and raw, as some servers send it; a body that does not
    decode is the upstream's answer still, not a reason to answer 502."""
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    cases = {
        "gzip": (gzip.compress(RESOURCE), None),
        "deflate": (zlib.compress(RESOURCE), None),
        "raw-deflate": (raw.compress(RESOURCE) + raw.flush(), None),
        "broken-gzip": (gzip.compress(RESOURCE)[:-9], "gzip"),
    }
    for name, (content, _) in cases.items():
        coding = "deflate" if name.endswith("deflate") else "gzip"
        wire.answer(f"/coded/{name}", http_response(content, FHIR, *encoding_lines(coding)))
    hub = start(make_hub, wire)
    with hub.client("partner-1", PASSWORD) as c:
        answers = {name: fetch(c, "GET", f"/coded/{name}")[1] for name in cases}
    assert answers == {
        name: (200, [passed], content) if passed else (200, [], RESOURCE)
        for name, (content, passed) in cases.items()
    }
