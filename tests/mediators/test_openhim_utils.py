"""``mediators.openhim`` (Python openhim-mediator-utils) against a live hub and a self-signed TLS server."""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import responses

from hub.mediators.response import MediatorResponse
from mediators import openhim
from tests.conftest import ADMIN, free_port
from tests.mediators.conftest import URN, mediator_doc


def wait_until(condition, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_register_fetch_config_and_heartbeat(hub):
    openhim.register_mediator(hub.url, ADMIN, mediator_doc())
    config = openhim.fetch_config(hub.url, ADMIN, URN)
    quiet = openhim.send_heartbeat(hub.url, ADMIN, URN)
    with hub.admin() as c:
        got = c.get(f"/mediators/{URN}").json()
    assert config == {"url": "http://lab.local", "retries": 3, "mode": "fast"}
    assert quiet is None, "nothing changed since the fetch"
    assert got["_uptime"] > 0 and "_lastHeartbeat" in got


def test_heartbeat_thread_hands_config_changes_to_the_callback_and_stops(hub):
    openhim.register_mediator(hub.url, ADMIN, mediator_doc())
    received: list[dict] = []
    beat = openhim.activate_heartbeat(hub.url, ADMIN, URN, on_config=received.append, interval_s=0.05)
    try:
        with hub.admin() as c:
            c.put(f"/mediators/{URN}/config", json={"mode": "safe"})
        assert wait_until(lambda: received), "the change never reached the callback"
    finally:
        beat.stop()
    with hub.admin() as c:
        stopped_at = c.get(f"/mediators/{URN}").json()["_lastHeartbeat"]
        time.sleep(0.3)
        later = c.get(f"/mediators/{URN}").json()["_lastHeartbeat"]
    assert received == [{"mode": "safe"}], "exactly one change, delivered once"
    assert later == stopped_at, "no beats after stop()"


def test_heartbeat_failures_go_to_on_error_and_the_loop_keeps_going(hub):
    errors: list[openhim.OpenHIMError] = []
    unregistered = "urn:mediator:unregistered"
    with openhim.Heartbeat(
        hub.url, ADMIN, unregistered, on_config=print, on_error=errors.append, interval_s=0.05
    ):
        assert wait_until(lambda: len(errors) >= 2)
    assert {e.status for e in errors} == {404}


@pytest.mark.parametrize(
    ("auth", "status"),
    [(ADMIN, 400), (("admin@hub.test", "wrong"), 401)],
    ids=["invalid-registration", "wrong-password"],
)
def test_api_errors_raise_openhim_error_with_status(hub, auth, status):
    with pytest.raises(openhim.OpenHIMError) as caught:
        openhim.register_mediator(hub.url, auth, mediator_doc(version="one"))
    assert caught.value.status == status and caught.value.method == "POST"
    assert caught.value.url == f"{hub.url}/mediators"


def test_unreachable_core_raises_openhim_error_without_status():
    with pytest.raises(openhim.OpenHIMError) as caught:
        openhim.fetch_config(f"http://127.0.0.1:{free_port()}", ADMIN, URN, timeout_s=2)
    assert caught.value.status is None and "no response" in str(caught.value)


def test_response_builder_produces_what_the_hub_parses():
    step = openhim.orchestration("lookup", method="get", url="http://fhir:8080/Patient?name=x", status=200)
    reply = openhim.build_response(
        URN,
        status="Completed",
        http_status=202,
        body={"ok": True},
        orchestrations=[step],
        properties={"n": 1},
    )
    parsed = MediatorResponse.model_validate_json(openhim.encode(reply))
    assert parsed.urn == URN and parsed.status == "Completed" and parsed.response.status == 202
    request = parsed.orchestrations[0].request
    assert (request.method, request.host, request.port, request.path, request.querystring) == (
        "GET", "fhir", 8080, "/Patient", "name=x",
    )  # fmt: skip


# -- TLS ---------------------------------------------------------------------------------------------


class _Created(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def self_signed(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback with a self-signed certificate; yields (url, certificate path)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Created)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_port}", cert
    server.shutdown()
    server.server_close()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # verify=False is the point
def test_tls_is_verified_unless_disabled(self_signed):
    url, cert = self_signed
    with pytest.raises(openhim.OpenHIMError) as caught:
        openhim.register_mediator(url, ADMIN, mediator_doc())
    openhim.register_mediator(url, ADMIN, mediator_doc(), verify=False)
    openhim.register_mediator(url, ADMIN, mediator_doc(), verify=str(cert))
    assert caught.value.status is None and "CERTIFICATE_VERIFY_FAILED" in str(caught.value)


# -- the wire, as OpenHIM core sees it ---------------------------------------------------------------


@responses.activate
def test_heartbeat_sends_what_openhim_core_expects_and_reads_its_answers():
    url = f"https://core.example:8080/mediators/{URN}/heartbeat"
    responses.post(url, body="OK")
    responses.post(url, json={"mode": "safe"})
    responses.post(url, body="<html>proxy error</html>")
    quiet = openhim.send_heartbeat("https://core.example:8080/", ADMIN, URN)
    fetched = openhim.fetch_config("https://core.example:8080", ADMIN, URN)
    with pytest.raises(openhim.OpenHIMError, match="not JSON"):
        openhim.send_heartbeat("https://core.example:8080", ADMIN, URN)
    first, second = (json.loads(call.request.body) for call in responses.calls[:2])
    assert quiet is None, "OpenHIM core before 1.x answered OK for no change"
    assert fetched == {"mode": "safe"}
    assert first["uptime"] > 0 and "config" not in first and second["config"] is True
    assert (
        responses.calls[0].request.headers["Authorization"]
        == "Basic " + base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
    )
