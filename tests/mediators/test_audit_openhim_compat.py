"""OpenHIM core behaviours a drop-in replacement owes existing mediators and consoles, over real HTTP:
mediator replies without ``status`` or ``x-mediator-urn``, default channels that would clobber
someone else's channel, masked passwords with nothing stored behind them, and ``GET /heartbeat``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub.db.base import utcnow
from hub.mediators.models import Mediator
from hub.mediators.schemas import MASK
from hub.transactions.models import Transaction
from tests.conftest import PARTNER, PASSWORD, channel
from tests.mediators.conftest import URN, mediator_doc

# -- mediator replies without status or urn ----------------------------------------------------------


class _Replies(BaseHTTPRequestHandler):
    """Answers ``/med/<name>`` with the JSON+openhim document ``server.replies[name]``."""

    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, *args: object) -> None:
        return

    def do_GET(self) -> None:
        body = json.dumps(self.server.replies[self.path.rsplit("/", 1)[1]]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json+openhim; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def replying_mediator() -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Replies)
    server.replies = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _reply(http_status: int, **fields: Any) -> dict[str, Any]:
    response = {"status": http_status, "headers": {"content-type": "application/json"}, "body": '{"n":1}'}
    step = {"name": "lookup", "request": {"method": "GET", "path": "/x"}, "response": {"status": 200}}
    return {"response": response, "orchestrations": [step], **fields}


@pytest.mark.usefixtures("partner_password")
def test_mediator_reply_without_status_or_urn_takes_the_status_its_http_status_implies(
    make_hub, replying_mediator
):
    replying_mediator.replies.update(
        ok=_reply(200),  # the urn left out too: the Java mediator engine does when it cannot read it
        missing=_reply(404, **{"x-mediator-urn": URN}),
        null=_reply(503, status=None, **{"x-mediator-urn": URN}),
        given=_reply(200, status="Completed", **{"x-mediator-urn": URN}),
    )
    url = f"http://127.0.0.1:{replying_mediator.server_port}"
    hub = make_hub({"clients": [PARTNER], "channels": [channel("med", r"/med/.*", url)]})
    got = {}
    with hub.client("partner-1", PASSWORD) as c:
        for name in ("ok", "missing", "null", "given"):
            r = c.get(f"/med/{name}")
            with hub.runtime.db.session() as session:
                tx = session.scalars(
                    select(Transaction).where(Transaction.id == int(r.headers["x-hub-transaction-id"]))
                ).one()
                got[name] = (r.status_code, r.text, tx.status, tx.mediator_urn, len(tx.orchestrations))
    assert got == {
        "ok": (200, '{"n":1}', "Successful", None, 2),
        "missing": (404, '{"n":1}', "Completed", URN, 2),
        "null": (503, '{"n":1}', "Failed", URN, 2),
        "given": (200, '{"n":1}', "Completed", URN, 2),
    }, "OpenHIM core accepts these replies; the mediator's response reaches the client, not a 502"


# -- default channels --------------------------------------------------------------------------------


def _openhim_channel(name: str, **extra: Any) -> dict[str, Any]:
    route = {"name": f"{name} route", "host": "127.0.0.1", "port": 8600, "primary": True}
    return {"name": name, "urlPattern": f"^/{name.lower()}$", "allow": ["echo"], "routes": [route], **extra}


def test_default_channels_never_overwrite_a_channel_the_mediator_did_not_install(hub):
    admins = {
        "name": "Alpha",
        "url_pattern": "^/alpha-admin$",
        "allowed_roles": ["finance"],
        "routes": [{"name": "admin route", "url": "http://10.0.0.9:9000", "primary": True}],
    }
    doc = mediator_doc(defaultChannelConfig=[_openhim_channel("Beta"), _openhim_channel("Alpha")])
    other = mediator_doc(urn="urn:mediator:other", defaultChannelConfig=[_openhim_channel("Beta")])
    with hub.admin() as c:
        assert c.post("/admin/channels", json=admins).status_code == 201
        c.post("/mediators", json=doc)
        c.post("/mediators", json=other)
        clash = c.post(f"/mediators/{URN}/channels")
        after_clash = {ch["name"]: ch for ch in c.get("/admin/channels").json()}
        own = c.post(f"/mediators/{URN}/channels", json=["Beta"])
        again = c.post(f"/mediators/{URN}/channels", json=["Beta"])
        others = c.post("/mediators/urn:mediator:other/channels")
        beta = next(ch for ch in c.get("/admin/channels").json() if ch["name"] == "Beta")
    assert clash.status_code == 409 and clash.headers["content-type"] == "application/problem+json"
    assert "'Alpha' (source api)" in clash.json()["detail"]
    assert list(after_clash) == ["Alpha"], "one clash installs none of the others"
    assert after_clash["Alpha"]["url_pattern"] == "^/alpha-admin$"
    assert after_clash["Alpha"]["allowed_roles"] == ["finance"], "the admin's channel is untouched"
    assert own.status_code == 201 and again.status_code == 201, "its own channel reinstalls in place"
    assert others.status_code == 409, "another mediator's channel of the same name is not taken over"
    assert beta["source"] == f"mediator:{URN}"


# -- masked passwords with nothing stored behind them ------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "put", "named"),
    [
        (None, {"token": MASK}, "token"),
        ({"keys": ["k1", "k2"]}, {"keys": [MASK, MASK, MASK]}, "keys[2]"),
        ({"db": {"host": "db.local"}}, {"db": {"host": "db.local", "password": MASK}}, "db.password"),
    ],
    ids=["never-set", "array-longer-than-stored", "struct-field-never-set"],
)
def test_a_mask_with_no_stored_password_behind_it_is_refused(hub, stored, put, named):
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc())
        if stored is not None:
            assert c.put(f"/mediators/{URN}/config", json=stored).status_code == 200
        r = c.put(f"/mediators/{URN}/config", json=put)
        sent = c.post(f"/mediators/{URN}/heartbeat", json={"uptime": 1, "config": True}).json()
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert named in r.json()["detail"]
    assert MASK not in json.dumps(sent), "the mediator is never handed the mask as its password"
    assert sent == (stored or mediator_doc()["config"])


def test_a_mask_over_a_stored_password_still_keeps_it(hub):
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc())
        c.put(f"/mediators/{URN}/config", json={"token": "t0ken", "keys": ["k1"]})
        r = c.put(f"/mediators/{URN}/config", json={"token": MASK, "keys": [MASK, "k2"]})
        sent = c.post(f"/mediators/{URN}/heartbeat", json={"uptime": 1, "config": True}).json()
    assert r.status_code == 200
    assert sent == {"token": "t0ken", "keys": ["k1", "k2"]}


# -- GET /heartbeat ----------------------------------------------------------------------------------


def test_core_heartbeat_is_public_and_reports_each_mediators_uptime_or_null_when_silent(hub):
    quiet = "urn:mediator:quiet"
    with hub.admin() as c:
        c.post("/mediators", json=mediator_doc())
        c.post("/mediators", json=mediator_doc(urn=quiet))
        c.post(f"/mediators/{URN}/heartbeat", json={"uptime": 12.5})
        c.post(f"/mediators/{quiet}/heartbeat", json={"uptime": 99})
    with hub.runtime.db.session() as session:
        session.get(Mediator, quiet).last_heartbeat_at = utcnow() - timedelta(seconds=61)
    r = httpx.get(f"{hub.url}/heartbeat")  # no credentials: health checks call it bare
    assert r.status_code == 200
    body = r.json()
    assert body["mediators"] == {URN: 12.5, quiet: None}, "a mediator silent for over a minute is down"
    assert isinstance(body["master"], float) and body["master"] > 0
    assert abs(body["now"] / 1000 - utcnow().timestamp()) < 60


# -- a config registered without configDefs ----------------------------------------------------------


@pytest.mark.parametrize("defs", [{}, {"configDefs": None}], ids=["absent", "null"])
def test_config_registered_without_config_defs_is_kept_as_sent(hub, defs):
    doc = {k: v for k, v in mediator_doc().items() if k != "configDefs"}
    doc.update(defs, config={"upstream": "http://lab.local", "retries": 3})
    with hub.admin() as c:
        r = c.post("/mediators", json=doc)
        fetched = c.post(f"/mediators/{URN}/heartbeat", json={"uptime": 1, "config": True}).json()
        put = c.put(f"/mediators/{URN}/config", json={"retries": 4})
    assert r.status_code == 201, "OpenHIM core checks a config only against configDefs sent with it"
    assert fetched == {"upstream": "http://lab.local", "retries": 3}
    assert put.status_code == 400, "no defs describe any param an admin could set"


def test_config_with_empty_config_defs_is_still_checked(hub):
    with hub.admin() as c:
        r = c.post("/mediators", json=mediator_doc(configDefs=[], config={"retries": 3}))
    assert r.status_code == 400 and "no config definition for param retries" in r.json()["detail"]
