"""``hub serve`` as a real process: structured JSON logs with request ids and no secrets or patient data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import create_engine, text

from hub.db.migrate import upgrade
from tests.conftest import ROOT, channel, free_port, wait_for_port, write_config

SECRET = "partner-secret-pass-9"
PATIENT_ID = "NID-8812-7731"


class Served(subprocess.Popen[str]):
    stderr_text = ""


@contextmanager
def serving(database_url: str, config: str, **env: str) -> Iterator[tuple[str, Served]]:
    """``hub serve`` in a process of its own on a free port, with ``HUB_*`` settings ``env``; its
    standard error is in ``stderr_text`` once it has stopped."""
    upgrade(database_url)
    port = free_port()
    environment = {
        **os.environ,
        "HUB_DATABASE_URL": database_url,
        "HUB_CONFIG": config,
        "HUB_PORT": str(port),
        "P_PASS": SECRET,
        "HUB_ADMIN_EMAIL": "root@hub.test",
        "HUB_ADMIN_PASSWORD": "root-password-1",
        **env,
    }
    proc = Served(
        [sys.executable, "-m", "hub.cli", "serve"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        _, proc.stderr_text = proc.communicate(timeout=30)


def test_serve_logs_json_without_secrets(database_url, tmp_path, upstream):
    config = write_config(
        tmp_path,
        {
            "clients": [{"client_id": "p", "name": "P", "roles": ["partner"], "password_env": "P_PASS"}],
            "channels": [
                channel("echo", r"/echo", upstream),
                channel("down", r"/down", "http://127.0.0.1:9"),
            ],
        },
    )
    with serving(database_url, config, HUB_LOG_FORMAT="json", HUB_LOG_LEVEL="INFO") as (base, proc):
        ok = httpx.post(
            f"{base}/echo",
            auth=("p", SECRET),
            json={"nationalId": PATIENT_ID},
            headers={"X-Request-ID": "trace-123"},
        )
        assert ok.status_code == 200
        assert (
            httpx.post(f"{base}/down", auth=("p", SECRET), json={"nationalId": PATIENT_ID}).status_code == 502
        )
        assert httpx.get(f"{base}/echo", auth=("p", "wrong-" + SECRET)).status_code == 401
    stderr = proc.stderr_text
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert lines, "the hub logged nothing"
    assert all({"ts", "level", "logger", "msg"} <= set(doc) for doc in lines)
    assert any(doc.get("msg") == "primary route failed" and doc.get("request_id") for doc in lines)
    for needle in (SECRET, PATIENT_ID, "root-password-1"):
        assert needle not in stderr, f"{needle!r} leaked into the log"


def test_serve_takes_the_address_from_the_proxies_it_is_told_to_trust(database_url, tmp_path, upstream):
    """``HUB_FORWARDED_ALLOW_IPS``: lockout counts the X-Forwarded-For of a trusted proxy, and the
    peer's own address when any other caller sends one."""
    config = write_config(tmp_path, {"channels": [channel("echo", r"/echo", upstream)]})
    with serving(database_url, config, HUB_FORWARDED_ALLOW_IPS="127.0.0.2") as (base, _):
        for proxy, forwarded in (("127.0.0.2", "203.0.113.9"), ("127.0.0.1", "198.51.100.7")):
            transport = httpx.HTTPTransport(local_address=proxy)
            with httpx.Client(transport=transport) as client:
                answer = client.get(f"{base}/echo", auth=("x", "y"), headers={"X-Forwarded-For": forwarded})
            assert answer.status_code == 401
    engine = create_engine(database_url)
    with engine.connect() as conn:
        keys = set(conn.execute(text("SELECT principal FROM auth_lockouts")).scalars())
    engine.dispose()
    assert keys == {"client:x@203.0.113.9", "client:x@127.0.0.1", "client:x"}
