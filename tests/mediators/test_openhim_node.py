"""The npm package openhim-mediator-utils, unchanged, registers and heartbeats against the hub: the
current release (0.4.0) and the last of the 0.2 line (0.2.3), still on npm, which sends its
``auth-ts`` as JavaScript's ``Date.toString()`` text rather than ISO 8601."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest

from tests.conftest import ADMIN, ROOT

NODE_DIR = ROOT / "tests" / "openhim_node"
NODE_URN = "urn:mediator:node-compat"
# package.json's installs of openhim-mediator-utils: the current release, and 0.2.3 under an alias
PACKAGES = ["openhim-mediator-utils", "openhim-mediator-utils-0.2"]


@pytest.fixture(scope="session")
def node_package() -> None:
    """``npm install`` in tests/openhim_node once, when node_modules is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip(
            "node and npm are not installed: cannot run the openhim-mediator-utils compatibility test"
        )
    if not all((NODE_DIR / "node_modules" / package).is_dir() for package in PACKAGES):
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            check=True,
            capture_output=True,
            timeout=300,
        )


def read_event(proc: subprocess.Popen[str]) -> dict[str, Any]:
    line = proc.stdout.readline() if proc.stdout else ""
    if not line:
        proc.wait(10)
        raise AssertionError(
            f"compat.js ended early (exit {proc.returncode}): {proc.stderr.read() if proc.stderr else ''}"
        )
    event = json.loads(line)
    assert event["event"] != "error", f"openhim-mediator-utils failed: {event}"
    return event


@pytest.mark.parametrize("package", PACKAGES)
def test_node_mediator_utils_register_fetch_config_and_heartbeat(make_hub, node_package, package):
    # 0.4.0 sends Basic credentials; 0.2.3 only OpenHIM's legacy token, which the admin must opt in to
    hub = make_hub(admin_legacy_token_auth=True)
    env = {
        **os.environ,
        "MEDIATOR_UTILS": package,
        "HUB_URL": hub.url,
        "HUB_USERNAME": ADMIN[0],
        "HUB_PASSWORD": ADMIN[1],
        "MEDIATOR_URN": NODE_URN,
    }
    proc = subprocess.Popen(
        ["node", "compat.js"],
        cwd=NODE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        authenticated = read_event(proc)
        registered = read_event(proc)
        fetched = read_event(proc)
        assert read_event(proc)["event"] == "beating"
        with hub.admin() as c:
            changed = c.put(f"/mediators/{NODE_URN}/config", json={"greeting": "hola"})
        pushed = read_event(proc)
        assert proc.wait(20) == 0, proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
    with hub.admin() as c:
        mediator = c.get(f"/mediators/{NODE_URN}").json()
    assert authenticated["event"] == "authenticated" and len(authenticated["salt"]) == 32
    assert registered == {"event": "registered"}
    assert fetched == {"event": "config", "source": "fetch", "config": {"greeting": "hi"}}
    assert changed.status_code == 200
    assert pushed == {"event": "config", "source": "heartbeat", "config": {"greeting": "hola"}}
    assert mediator["name"] == "Node compatibility mediator" and mediator["version"] == "0.1.0"
    assert "_lastHeartbeat" in mediator and mediator["_uptime"] > 0
