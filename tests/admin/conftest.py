"""The admin API's tests share a hub with one partner client ``p1`` and a channel ``echo`` to the
upstream; it looks for queued rerun tasks every 50 ms."""

from __future__ import annotations

import pytest

from tests.conftest import channel

PASSWORD = "partner-password-1"


@pytest.fixture
def hub(make_hub, upstream, monkeypatch):
    monkeypatch.setenv("P1_PASSWORD", PASSWORD)
    return make_hub(
        {
            "clients": [
                {"client_id": "p1", "name": "P1", "roles": ["partner"], "password_env": "P1_PASSWORD"}
            ],
            "channels": [channel("echo", r"/echo/.*", upstream)],
        },
        rerun_task_poll_s=0.05,
    )
