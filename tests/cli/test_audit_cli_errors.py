"""The ``hub`` command on bad settings, an un-migrated or unreachable database: one line, exit 1.

In-process (CliRunner) so each case costs milliseconds, not an interpreter start.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner, Result

from hub.channels import service as channel_service
from hub.channels.schemas import ChannelSpec
from hub.cli import main
from hub.db.migrate import alembic_config
from hub.db.session import Database
from hub.outbox import service as outbox
from hub.settings import get_settings
from hub.transactions import service as transactions
from tests.conftest import free_port


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch):
    for name in ("HUB_CONFIG", "HUB_ENV", "HUB_PORT", "HUB_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUB_LOG_FORMAT", "console")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def hub(*args: str) -> Result:
    get_settings.cache_clear()
    return CliRunner().invoke(main, list(args))


def refused(result: Result, needle: str) -> str:
    """A clean refusal: exit 1 through click (not an exception escaping), one ``Error:`` line."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], result.output
    return lines[0]


DB_COMMANDS = [
    ["client", "list"],
    ["client", "add", "lab-9", "--role", "lab"],
    ["channel", "list"],
    ["transactions", "list"],
    ["transactions", "show", "1"],
    ["transactions", "rerun", "1"],
    ["transactions", "retain"],
    ["outbox", "list"],
    ["outbox", "retry", "1"],
    ["tasks", "list"],
    ["tasks", "show", "1"],
    ["tasks", "add", "1"],
]


def test_every_command_on_an_unmigrated_database_names_the_fix(database_url, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    command.downgrade(alembic_config(database_url), "base")
    for args in DB_COMMANDS:
        line = refused(hub(*args), "run `hub db upgrade`")
        assert "[SQL" not in line and "lab-9" not in line
    behind = hub("db", "current", "--check")
    assert behind.exit_code == 1 and "run `hub db upgrade`" in behind.output
    assert hub("db", "upgrade").exit_code == 0
    current = hub("db", "current", "--check")
    assert current.exit_code == 0 and "up to date" in current.output


def test_an_unreachable_database_is_one_line_without_its_password(monkeypatch):
    url = f"postgresql+psycopg://hub:s3cret-db-pw@127.0.0.1:{free_port()}/hub"
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    for args in [*DB_COMMANDS[:1], ["db", "upgrade"], ["db", "current"], ["worker", "--once"], ["serve"]]:
        line = refused(hub(*args), "database unreachable")
        assert "s3cret-db-pw" not in line and "127.0.0.1" in line


def test_bad_settings_are_one_line_naming_the_variable(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'never.db'}")
    monkeypatch.setenv("HUB_PORT", "eighty")
    refused(hub("client", "list"), "HUB_PORT")
    assert hub("client", "add", "--help").exit_code == 0, "help works whatever the settings"
    monkeypatch.delenv("HUB_PORT")

    monkeypatch.setenv("HUB_LOG_LEVEL", "verbose")
    refused(hub("client", "list"), "HUB_LOG_LEVEL")
    monkeypatch.setenv("HUB_LOG_LEVEL", "debug")
    assert get_settings().log_level == "DEBUG"
    monkeypatch.delenv("HUB_LOG_LEVEL")

    monkeypatch.setenv("HUB_ENV", "production")
    monkeypatch.setenv("HUB_ADMIN_PASSWORD", "admin-pw-never-shown")
    line = refused(hub("client", "list"), "HUB_SECRET_KEY")
    assert "admin-pw-never-shown" not in line
    monkeypatch.delenv("HUB_ENV")

    monkeypatch.setenv("HUB_CONFIG", str(tmp_path / "missing.yaml"))
    refused(hub("client", "list"), "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("port: [\n")
    monkeypatch.setenv("HUB_CONFIG", str(broken))
    refused(hub("client", "list"), "broken.yaml")
    # A misspelt key would be dropped and the hub would run on the default database instead.
    typo = tmp_path / "typo.yaml"
    typo.write_text("databse_url: postgresql+psycopg://db/hub\nclients: []\n")
    monkeypatch.setenv("HUB_CONFIG", str(typo))
    refused(hub("client", "list"), "databse_url")
    assert not (tmp_path / "never.db").exists()
    # Known sections and settings pass; the environment still wins over the file.
    good = tmp_path / "good.yaml"
    good.write_text("port: 7000\nlog_level: warning\nclients: []\nchannels: []\ndhis2: {}\n")
    monkeypatch.setenv("HUB_CONFIG", str(good))
    monkeypatch.setenv("HUB_PORT", "7001")
    assert (get_settings().port, get_settings().log_level) == (7001, "WARNING")


def test_lists_print_json_for_scripts(database_url, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("LAB_PW", "lab-password-1")
    assert hub("client", "add", "lab-1", "--role", "lab", "--password-env", "LAB_PW").exit_code == 0
    long_path = "/fhir/Observation/" + "x" * 150  # a table would wrap or cut it
    db = Database(database_url)
    with db.session() as session:
        spec = ChannelSpec(
            name="obs",
            url_pattern="/fhir/.*",
            allowed_roles=["lab"],
            routes=[{"name": "up", "url": "http://up.test", "primary": True}],
        )
        channel_service.upsert(session, spec=spec, actor="test", source="api")
        tx_id, _ = transactions.open_transaction(
            session,
            transactions.Opening(
                request_id="r1",
                method="POST",
                path=long_path,
                query="",
                client_id="lab-1",
                channel_pk=None,
                channel_name="obs",
                request_headers={},
                request_body="{}",
                request_body_size=2,
                request_stored=True,
            ),
        )
        spec_d = outbox.DeliverySpec("up", "POST", "http://up.test" + long_path, {}, b"{}", 5.0, 3)
        outbox.enqueue(session, transaction_id=tx_id, deliveries=[spec_d])
    db.dispose()

    def listed(*args: str) -> list[dict]:
        result = hub(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    [client] = listed("client", "list")
    assert client["client_id"] == "lab-1" and client["has_password"] is True
    assert "password_hash" not in client and "lab-password-1" not in json.dumps(client)
    [chan] = listed("channel", "list")
    assert chan["name"] == "obs" and chan["routes"][0]["url"].startswith("http://up.test")
    [tx] = listed("transactions", "list")
    assert (tx["id"], tx["path"], tx["status"]) == (tx_id, long_path, "Processing")
    [delivery] = listed("outbox", "list")
    assert delivery["transaction_id"] == tx_id and delivery["url"] == "http://up.test" + long_path


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HUB_AUTH_LOCKOUT_S", "inf"),
        ("HUB_PORT", "70000"),
        ("HUB_OUTBOX_BATCH", "0"),
        ("HUB_MAX_BODY_BYTES", "-1"),
        ("HUB_ARGON2_PARALLELISM", "0"),
        ("HUB_OUTBOX_MAX_ATTEMPTS", "0"),
        ("HUB_OUTBOX_POLL_S", "0"),
        ("HUB_OUTBOX_BACKOFF_BASE_S", "-1"),
        ("HUB_AUTH_CACHE_TTL_S", "-5"),
    ],
)
def test_numbers_out_of_their_range_are_refused_naming_the_variable(
    tmp_path: Path, monkeypatch, variable, value
):
    """Not taken as they come: an infinite lockout made every failure overflow (a 500, nothing
    counted), port 70000 bound 4464, a batch of 0 never sent a delivery."""
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'never.db'}")
    monkeypatch.setenv(variable, value)
    refused(hub("client", "list"), variable)


@pytest.mark.parametrize(
    ("variable", "value", "needle"),
    [
        ("HUB_DATABASE_URL", "./var/hub.db", "not a database URL"),
        ("HUB_DATABASE_URL", "mysql://hub:s3cret-db-pw@db/hub", "not mysql"),
        ("HUB_ADMIN_EMAIL", "admin at hub", "HUB_ADMIN_EMAIL"),
        ("HUB_ADMIN_PASSWORD", "s3cret", "at least 10 characters"),
        ("HUB_TLS_CLIENT_CA", "/etc/ssl/ca.pem", "need HUB_TLS_CERT"),
        ("HUB_TLS_KEY", "/etc/ssl/key.pem", "need HUB_TLS_CERT"),
    ],
)
def test_settings_that_would_fail_later_are_refused_at_once(
    tmp_path: Path, monkeypatch, variable, value, needle
):
    """A malformed database URL was a traceback from every command; a first admin the API would
    refuse was made anyway; a client CA without a certificate was ignored (plain HTTP, no word)."""
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'never.db'}")
    monkeypatch.setenv(variable, value)
    line = refused(hub("client", "list"), variable)
    assert needle in line and "s3cret" not in line
    assert not (tmp_path / "never.db").exists()


def test_retention_steps_are_switched_off_from_the_environment(monkeypatch):
    monkeypatch.setenv("HUB_BODY_CULL_AFTER_DAYS", "off")
    monkeypatch.setenv("HUB_PURGE_AFTER_DAYS", "Never")
    settings = get_settings()
    assert (settings.body_cull_after_days, settings.purge_after_days) == (None, None)
    monkeypatch.setenv("HUB_PURGE_AFTER_DAYS", "90")
    get_settings.cache_clear()
    assert get_settings().purge_after_days == 90


def serve_refused(tmp_path: Path, monkeypatch, needle: str, **config: object) -> str:
    """``hub serve`` on a migrated database with ``config`` as its file: refused in one line (never
    listening: that would hang the test)."""
    monkeypatch.setattr("uvicorn.run", lambda *a, **kw: pytest.fail("hub serve started"))
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    assert hub("db", "upgrade").exit_code == 0
    if config:
        path = tmp_path / "hub.yaml"
        path.write_text(json.dumps(config))
        monkeypatch.setenv("HUB_CONFIG", str(path))
    return refused(hub("serve", "--port", str(free_port())), needle)


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"clients": 5}, "clients: Input should be a valid list"),
        ({"channels": [{"name": "x"}]}, "channels.0.url_pattern: Field required"),
        (
            {"clients": [{"client_id": "lab-1", "name": "Lab", "password_env": "LAB_1_PASSWORD_UNSET"}]},
            "lab-1 (LAB_1_PASSWORD_UNSET)",
        ),
    ],
)
def test_serve_says_what_is_wrong_with_the_config_file_in_one_line(
    tmp_path: Path, monkeypatch, config, needle
):
    """It was a traceback from the app's start-up, logged by uvicorn."""
    serve_refused(tmp_path, monkeypatch, needle, **config)


def test_serve_says_which_tls_file_does_not_load_in_one_line(tmp_path: Path, monkeypatch):
    """uvicorn loaded the files as it started to listen: a missing one was a traceback."""
    monkeypatch.setenv("HUB_TLS_CERT", str(tmp_path / "missing-cert.pem"))
    serve_refused(tmp_path, monkeypatch, "cannot load HUB_TLS_CERT")
    not_a_certificate = tmp_path / "cert.pem"
    not_a_certificate.write_text("not a certificate")
    monkeypatch.setenv("HUB_TLS_CERT", str(not_a_certificate))
    serve_refused(tmp_path, monkeypatch, "cannot load HUB_TLS_CERT")
