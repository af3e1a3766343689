"""The log when the database goes away mid-write: a write whose outcome is unknown is neither logged
twice nor left Processing, and a locked SQLite database is a 503, never a 500.

PostgreSQL is reached through a TCP proxy in the test process that can swallow the server's answers
and cut every connection, as a network that fails between a statement and its answer."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from hub.db import session as db_session
from tests.conftest import PG_URL, LiveHub, channel, hub_settings, write_config

POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
NEEDS_POSTGRESQL = pytest.mark.skipif(
    not PG_URL, reason="HUB_TEST_POSTGRES_URL is not set (scripts/test and CI set it)"
)


class Proxy:
    """A TCP proxy to PostgreSQL. ``swallow``: the server's answers are dropped; ``refuse``: new
    connections are closed at once; ``cut()`` closes every connection made so far."""

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.mode = "pass"
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            if self.mode == "refuse":
                client.close()
                continue
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, answers: bool) -> None:
        try:
            while data := source.recv(65536):
                if not (answers and self.mode == "swallow"):
                    sink.sendall(data)
        except OSError:
            pass

    def cut(self) -> None:
        sockets, self.sockets = self.sockets, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()


@pytest.fixture
def proxied(database_url: str) -> Iterator[tuple[str, Proxy]]:
    """The test's database URL through a :class:`Proxy`, and the proxy."""
    port = int(database_url.rsplit(":", 1)[1].split("/", 1)[0])
    proxy = Proxy(port)
    yield database_url.replace(f"127.0.0.1:{port}", f"127.0.0.1:{proxy.port}"), proxy
    proxy.close()


@pytest.fixture
def outage_hub(proxied: tuple[str, Proxy], tmp_path: Path, upstream: str) -> Iterator[tuple[LiveHub, Proxy]]:
    """A hub on the proxied database with a public channel ``/outage/…`` to the shared upstream,
    beating every half second; its writer process has its database connection."""
    url, proxy = proxied
    config = write_config(
        tmp_path, {"channels": [channel("outage", r"/outage/.*", upstream, public=True, allowed_roles=[])]}
    )
    hub = LiveHub(hub_settings(url, config, instance_heartbeat_s=0.5)).start()
    assert httpx.get(f"{hub.url}/outage/warm", timeout=30).status_code == 200
    yield hub, proxy
    hub.stop()


def rows(database_url: str, request_id: str) -> list[str]:
    """The statuses of the transactions logged for ``request_id``, read past the proxy."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT status FROM transactions WHERE request_id = :r ORDER BY id"), {"r": request_id}
        )
        statuses = list(found.scalars())
    engine.dispose()
    return statuses


def wait_for(check: Callable[[], Any], what: str, timeout_s: float = 20) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (result := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return result


def cut_after_commit(
    hub: LiveHub, proxy: Proxy, database_url: str, request_id: str, then: str
) -> httpx.Response:
    """Send a request whose open the database commits but whose answer never reaches the writer,
    whose connection is then cut; the proxy is left in mode ``then``."""
    answers: list[httpx.Response] = []
    proxy.mode = "swallow"
    sender = threading.Thread(
        target=lambda: answers.append(
            httpx.post(f"{hub.url}/outage/x", json={"v": 1}, headers={"X-Request-ID": request_id}, timeout=60)
        )
    )
    sender.start()
    wait_for(lambda: rows(database_url, request_id), "the open reached the database")
    proxy.mode = then
    proxy.cut()
    sender.join(60)
    [answer] = answers
    return answer


@POSTGRESQL
@NEEDS_POSTGRESQL
def test_an_open_committed_when_the_connection_was_lost_is_logged_once_and_failed(
    outage_hub: tuple[LiveHub, Proxy], database_url: str, upstream_log: Callable[[], list[Any]]
) -> None:
    """Its outcome is unknown: it is not written again (before, the error of the lost connection was
    hidden by the driver's, so the write was retried and the request logged twice, the first row
    Processing for good) and its row is failed at once, not left Processing until a restart."""
    hub, proxy = outage_hub
    answer = cut_after_commit(hub, proxy, database_url, "cut-then-back", then="pass")

    assert answer.status_code == 503 and answer.headers["content-type"] == "application/problem+json"
    assert not [r for r in upstream_log() if r["path"] == "/outage/x"], "nothing was forwarded"
    assert wait_for(lambda: rows(database_url, "cut-then-back") == ["Failed"], "one row, Failed")


@POSTGRESQL
@NEEDS_POSTGRESQL
def test_a_row_left_unconfirmed_while_the_database_is_away_is_failed_once_it_is_back(
    outage_hub: tuple[LiveHub, Proxy], database_url: str
) -> None:
    """The hub cannot fail the row at once (the database refuses it too): a heartbeat does once the
    database is back, rather than leave it Processing until the next restart."""
    hub, proxy = outage_hub
    answer = cut_after_commit(hub, proxy, database_url, "cut-and-away", then="refuse")

    assert answer.status_code == 503
    time.sleep(1)  # heartbeats come and fail while the database is away
    assert rows(database_url, "cut-and-away") == ["Processing"]
    proxy.mode = "pass"
    assert wait_for(lambda: rows(database_url, "cut-and-away") == ["Failed"], "failed by a heartbeat")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_sqlite_database_locked_past_the_busy_timeout_is_a_503(
    make_hub: Callable[..., LiveHub], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the write lock longer than the hub waits for it: the caller gets a 503
    it may retry (before, the driver's error of the ``BEGIN IMMEDIATE`` escaped SQLAlchemy's, a 500)."""
    monkeypatch.setattr(db_session, "SQLITE_BUSY_TIMEOUT_MS", 200)
    hub = make_hub()
    locker = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with hub.admin() as admin:
            answer = admin.get("/admin/transactions")
    finally:
        locker.execute("ROLLBACK")
        locker.close()

    assert answer.status_code == 503 and answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"]
