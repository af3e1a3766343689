"""``hub serve`` on a database whose schema is behind: one clear line and a failing exit, no traceback."""

from __future__ import annotations

import subprocess

from alembic import command

from hub.db.migrate import alembic_config
from tests.conftest import ROOT, free_port

HUB = ROOT / ".venv" / "bin" / "hub"


def test_serve_names_the_fix_in_one_line(database_url):
    command.downgrade(alembic_config(database_url), "base")
    env = {
        "HUB_DATABASE_URL": database_url,
        "HUB_PORT": str(free_port()),
        "HUB_LOG_FORMAT": "console",
        "PATH": "/usr/bin:/bin",
    }

    proc = subprocess.run(
        [HUB, "serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert proc.returncode == 1, "click's error exit, not uvicorn's failed start-up (3)"
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith("Error: database schema is at revision none") and "run `hub db upgrade`" in line
