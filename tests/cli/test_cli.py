"""The ``hub`` command, against a real database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from click.testing import CliRunner
from sqlalchemy import select

from hub.cli import main
from hub.db.migrate import alembic_config
from hub.instances.models import HubInstance
from hub.settings import get_settings
from hub.transactions import service as transactions
from tests.conftest import ROOT, channel


def test_client_add_list_and_token(hub_cli, monkeypatch):
    monkeypatch.setenv("LAB_PASSWORD", "lab-password-1")
    hub_cli(
        "client",
        "add",
        "lab-1",
        "--role",
        "lab",
        "--password-env",
        "LAB_PASSWORD",
        "--org-unit",
        "ImspTQPwCqd",
    )
    listing = hub_cli("client", "list")
    assert "lab-1" in listing and "lab" in listing
    token = hub_cli("client", "token", "lab-1", "--name", "ci").strip()
    assert token.startswith("hub_") and len(token) > 40
    added = hub_cli("client", "add", "lab-2", "--role", "lab", "--token", "first").splitlines()
    assert added[0] == "client lab-2 added" and added[1].startswith("hub_") and added[1] != token


def test_missing_password_env_is_a_clean_error(database_url, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["client", "add", "x", "--role", "r", "--password-env", "NOPE_UNSET"])
    get_settings.cache_clear()
    assert result.exit_code == 1 and "NOPE_UNSET is not set" in result.output


def test_transactions_list_show_and_rerun(hub_cli, make_hub, upstream, monkeypatch):
    monkeypatch.setenv("P_PASS", "partner-pass-1")
    hub = make_hub(
        {
            "clients": [{"client_id": "p", "name": "P", "roles": ["partner"], "password_env": "P_PASS"}],
            "channels": [channel("echo", r"/echo", upstream)],
        }
    )
    with hub.client("p", "partner-pass-1") as c:
        tx_id = c.post("/echo", json={"v": 1}).headers["x-hub-transaction-id"]
    assert "echo" in hub_cli("transactions", "list", "--channel", "echo")
    assert '"request_body": "{\\"v\\":1}"' in hub_cli("transactions", "show", tx_id)
    out = hub_cli("transactions", "rerun", tx_id)
    assert "1 rerun, 0 refused" in out
    with hub.runtime.db.session() as session:
        children = transactions.list_page(session, filters=transactions.Filters(parent_id=int(tx_id)))
    assert len(children) == 1 and children[0].status == "Successful"
    assert children[0].instance.startswith("cli-"), "the command's own instance, not a hub serve's"
    with hub.runtime.db.session() as session:
        assert not session.scalars(select(HubInstance.name).where(HubInstance.name.startswith("cli-"))).all()


def test_serve_refuses_an_unmigrated_database(database_url, tmp_path: Path):
    command.downgrade(alembic_config(database_url), "base")
    env = {
        "HUB_DATABASE_URL": database_url,
        "HUB_PORT": "0",
        "PATH": "/usr/bin:/bin",
        "HUB_LOG_FORMAT": "console",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "hub.cli", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "run `hub db upgrade`" in proc.stderr + proc.stdout


def test_db_upgrade_then_current(hub_cli, database_url):
    command.downgrade(alembic_config(database_url), "base")
    assert "needs" in hub_cli("db", "current")
    hub_cli("db", "upgrade")
    assert "up to date" in hub_cli("db", "current")
