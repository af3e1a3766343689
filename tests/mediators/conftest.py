"""A hub per test, mediator registrations to post, a user outside the admin group, the echo mediator."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from hub.auth.service import create_user
from mediators.echo.app import URN as ECHO_URN
from tests.conftest import ADMIN, ROOT, free_port

URN = "urn:mediator:test-lab"
VIEWER = ("viewer@hub.test", "viewer-password-1")


def mediator_doc(version: str = "1.0.0", **overrides: Any) -> dict[str, Any]:
    """A registration as an OpenHIM mediator sends it, with one param of each config type."""
    doc: dict[str, Any] = {
        "urn": URN,
        "version": version,
        "name": "Lab results mediator",
        "description": "Turns lab results into FHIR",
        "endpoints": [{"name": "Lab mediator", "host": "127.0.0.1", "port": 8600, "type": "http"}],
        "defaultChannelConfig": [],
        "configDefs": [
            {"param": "url", "displayName": "Upstream URL", "type": "string"},
            {"param": "retries", "type": "number"},
            {"param": "verbose", "type": "bool"},
            {"param": "mode", "type": "option", "values": ["fast", "safe"]},
            {"param": "token", "type": "password"},
            {"param": "keys", "type": "password", "array": True},
            {"param": "headers", "type": "map"},
            {
                "param": "db",
                "type": "struct",
                "template": [
                    {"param": "host", "type": "string"},
                    {"param": "port", "type": "number"},
                    {"param": "password", "type": "password"},
                ],
            },
        ],
        "config": {"url": "http://lab.local", "retries": 3, "mode": "fast"},
    }
    doc.update(copy.deepcopy(overrides))
    return doc


@pytest.fixture
def hub(make_hub: Any) -> Any:
    return make_hub()


def add_viewer(hub: Any) -> tuple[str, str]:
    """Create a user who is not in the admin group; returns its Basic credentials."""
    with hub.runtime.db.session() as session:
        create_user(session, email=VIEWER[0], password=VIEWER[1], groups=["viewer"])
    return VIEWER


@dataclass
class EchoProcess:
    proc: subprocess.Popen[bytes]
    port: int
    urn: str = ECHO_URN


@pytest.fixture
def echo(hub: Any) -> Iterator[EchoProcess]:
    """``python -m mediators.echo`` in its own process, registered with ``hub`` and beating every 0.2 s."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mediators.echo", "--api-url", hub.url, "--username", ADMIN[0],
         "--port", str(port), "--heartbeat-s", "0.2"],
        cwd=ROOT,
        env={**os.environ, "OPENHIM_PASSWORD": ADMIN[1]},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        with hub.admin() as c:
            while c.get(f"/mediators/{ECHO_URN}").status_code != 200:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    output = proc.communicate()[0].decode(errors="replace")
                    raise RuntimeError(f"echo mediator did not register:\n{output}")
                time.sleep(0.05)
        yield EchoProcess(proc, port)
    finally:
        proc.terminate()
        proc.wait(10)
