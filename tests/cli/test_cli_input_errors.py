"""Bad input to the ``hub`` command is one "Error: …" line and a usage exit, never a traceback; a rerun
of many ids tries every one and exits 1 when any was refused."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner, Result

from hub.api.fields import MAX_ROW_ID
from hub.cli import main
from hub.errors import Conflict
from hub.settings import get_settings

TOO_BIG = str(MAX_ROW_ID + 1)


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HUB_LOG_FORMAT", "console")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def hub(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["transactions", "show", TOO_BIG], "TRANSACTION_ID"),
        (["transactions", "show", "0"], "TRANSACTION_ID"),
        (["transactions", "rerun", "1", TOO_BIG], "[IDS]"),
        (["outbox", "retry", TOO_BIG], "[IDS]"),
        (["outbox", "retry", "--transaction", TOO_BIG], "--transaction"),
        (["outbox", "list", "--before-id", TOO_BIG], "--before-id"),
        (["client", "add", "a b", "--role", "r"], "CLIENT_ID: String should match pattern"),
        (["client", "add", "lab", "--role", "r", "--cert-fingerprint", "abc"], "--cert-fingerprint: "),
        (["transactions", "list", "--limit", "99999999999999999999"], "--limit"),
        (["transactions", "rerun", "--status", "Failed", "--limit", "-1"], "--limit"),
        (["outbox", "list", "--limit", "0"], "--limit"),
    ],
    ids=[
        "show-beyond-bigint",
        "show-zero",
        "rerun-beyond-bigint",
        "retry-beyond-bigint",
        "retry-transaction-beyond-bigint",
        "outbox-cursor-beyond-bigint",
        "client-id-with-a-space",
        "client-fingerprint-not-sha256",
        "list-limit-beyond-bigint",
        "rerun-limit-negative",
        "outbox-limit-zero",
    ],
)
def test_bad_input_is_a_usage_error(args: list[str], needle: str) -> None:
    result = hub(*args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), "a traceback, not a usage error"
    assert "Error: " in result.output and needle in result.output


def test_rerun_tries_every_id_and_exits_1_when_any_was_refused(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried: list[int] = []

    async def rerun(runtime: Any, transaction_id: int) -> None:
        tried.append(transaction_id)
        if transaction_id == 1:
            raise RuntimeError("INSERT … VALUES ('patient-secret')")
        if transaction_id == 2:
            raise Conflict("transaction 2 is still Processing")

    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setattr("hub.gateway.rerun.rerun", rerun)

    result = hub("transactions", "rerun", "1", "2", "3")

    assert tried == [1, 2, 3]
    assert result.exit_code == 1, result.output
    assert "1 rerun, 2 refused" in result.output
    assert "1: unexpected RuntimeError" in result.output and "patient-secret" not in result.output
    assert "2: transaction 2 is still Processing" in result.output
