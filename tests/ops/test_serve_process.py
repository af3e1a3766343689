"""``hub serve`` as a real process: structured JSON logs with request ids and no secrets or patient data."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx

from hub.db.migrate import upgrade
from tests.conftest import ROOT, channel, free_port, wait_for_port, write_config

SECRET = "partner-secret-pass-9"
PATIENT_ID = "NID-8812-7731"


def test_serve_logs_json_without_secrets(database_url, tmp_path, upstream):
    upgrade(database_url)
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
    port = free_port()
    env = {
        **os.environ,
        "HUB_DATABASE_URL": database_url,
        "HUB_CONFIG": config,
        "HUB_PORT": str(port),
        "HUB_LOG_FORMAT": "json",
        "HUB_LOG_LEVEL": "INFO",
        "P_PASS": SECRET,
        "HUB_ADMIN_EMAIL": "root@hub.test",
        "HUB_ADMIN_PASSWORD": "root-password-1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port)
        base = f"http://127.0.0.1:{port}"
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
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert lines, "the hub logged nothing"
    assert all({"ts", "level", "logger", "msg"} <= set(doc) for doc in lines)
    assert any(doc.get("msg") == "primary route failed" and doc.get("request_id") for doc in lines)
    for needle in (SECRET, PATIENT_ID, "root-password-1"):
        assert needle not in stderr, f"{needle!r} leaked into the log"
