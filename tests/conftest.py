"""Shared fixtures: a fresh database per test on SQLite and PostgreSQL, a real upstream process,
and the hub served over real HTTP on a loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from hub.api.app import create_app
from hub.cli import main
from hub.db.migrate import upgrade
from hub.db.session import Database
from hub.runtime import Runtime
from hub.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent

# Airflow reads its configuration when first imported: point it at a private home before any test does.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="hub-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
# Tests hash and verify hundreds of passwords: the cheapest argon2id (as Django tests use a fast hasher).
os.environ.setdefault("HUB_ARGON2_TIME_COST", "1")
os.environ.setdefault("HUB_ARGON2_MEMORY_KIB", "64")
os.environ.setdefault("HUB_ARGON2_PARALLELISM", "1")
SHARED_DATA = ROOT.parent / "shared" / "data"
ADMIN = ("admin@hub.test", "admin-password-1")
PASSWORD = "partner-password-1"
PARTNER = {
    "client_id": "partner-1",
    "name": "Partner one",
    "roles": ["partner"],
    "password_env": "P1_PASSWORD",
}
PG_URL = os.environ.get("HUB_TEST_POSTGRES_URL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


# -- databases ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


class Dropper:
    """Drops the tests' PostgreSQL databases in a thread of its own, so no test waits for it:
    DROP DATABASE waits for a checkpoint, which flushes every dirty page of the server (the other
    workers' fresh databases among them). ``close`` drops what is left, and raises the first error."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, isolation_level="AUTOCOMMIT")
        self.names: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.errors: list[Exception] = []
        self.thread = threading.Thread(target=self._run, name="pg-dropper", daemon=True)
        self.thread.start()

    def drop(self, name: str) -> None:
        self.names.put(name)

    def _run(self) -> None:
        while (name := self.names.get()) is not None:
            try:
                with self.engine.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except Exception as exc:
                self.errors.append(exc)

    def close(self) -> None:
        self.names.put(None)
        self.thread.join()
        self.engine.dispose()
        if self.errors:
            raise self.errors[0]


@pytest.fixture(scope="session")
def pg_dropper() -> Iterator[Dropper | None]:
    if not PG_URL:
        yield None
        return
    dropper = Dropper(PG_URL)
    yield dropper
    dropper.close()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """A migrated template database that each test clones (fast CREATE DATABASE … TEMPLATE)."""
    if not PG_URL:
        yield None
        return
    name = f"hub_tpl_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    upgrade(PG_URL.rsplit("/", 1)[0] + "/" + name)
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _backends() -> list[Any]:
    return [
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(
                not PG_URL, reason="HUB_TEST_POSTGRES_URL is not set (scripts/test and CI set it)"
            ),
        ),
    ]


def pg_url(name: str) -> str:
    """The url of the PostgreSQL database ``name`` on the tests' server."""
    assert PG_URL
    return PG_URL.rsplit("/", 1)[0] + "/" + name


@contextmanager
def cloned(
    backend: str, directory: Path, sqlite_template: Path, pg_template: str | None, dropper: Dropper | None
) -> Iterator[str]:
    """A fresh copy of a template database, for one test; yields its url. On SQLite a copy of the
    file in ``directory``; on PostgreSQL ``CREATE DATABASE … TEMPLATE``, dropped afterwards by
    ``dropper``."""
    if backend == "sqlite":
        path = directory / "hub.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    assert pg_template is not None and dropper is not None
    name = f"hub_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    finally:
        admin.dispose()
    try:
        yield pg_url(name)
    finally:
        dropper.drop(name)


@pytest.fixture(params=_backends())
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    pg_template: str | None,
    pg_dropper: Dropper | None,
) -> Iterator[str]:
    """A fresh, migrated database for one test, on each backend."""
    with cloned(request.param, tmp_path, sqlite_template, pg_template, pg_dropper) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated SQLite database, for tests whose subject is not the database (e.g. DAG wiring)."""
    path = tmp_path / "hub.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


# -- processes and servers ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def upstream() -> Iterator[str]:
    """A real upstream HTTP server in its own process; GET {url}/_requests lists what it received."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.upstream", str(port)], cwd=ROOT, stdout=subprocess.PIPE
    )
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def upstream_log(upstream: str) -> Any:
    """Clears the upstream's record now; call it to read what arrived since."""
    httpx.delete(f"{upstream}/_requests")
    return lambda: httpx.get(f"{upstream}/_requests").json()


class HubServer(uvicorn.Server):
    """uvicorn's server, woken at once when :meth:`stop` is called: its own loop looks whether to
    stop every 0.1 s, which every test that stops a hub would wait for."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stopping: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

    async def main_loop(self) -> None:
        stopping = asyncio.Event()
        self._stopping = (asyncio.get_running_loop(), stopping)
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 0.1)

    def stop(self) -> None:
        self.should_exit = True
        if self._stopping is not None:
            loop, stopping = self._stopping
            with contextlib.suppress(RuntimeError):  # the loop has closed: the server has stopped
                loop.call_soon_threadsafe(stopping.set)


class LiveHub:
    """The hub running in uvicorn on a loopback port, in a thread of the test process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime = Runtime.create(settings)
        self.app = create_app(settings, self.runtime)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = HubServer(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveHub:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("hub did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(20)

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=ADMIN, timeout=30)

    def client(self, client_id: str, password: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(client_id, password), timeout=30)


def write_config(tmp_path: Path, doc: dict[str, Any]) -> str:
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def hub_settings(database_url: str, config: str | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": database_url,
        "config": config,
        "admin_email": ADMIN[0],
        "admin_password": ADMIN[1],
        "embedded_worker": False,
        "log_format": "console",
        "outbox_poll_s": 0.1,
        "outbox_backoff_base_s": 0.05,
        "outbox_backoff_max_s": 0.2,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def make_hub(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """``make_hub(config_dict, **settings)`` starts a hub on the test's database; stopped at teardown."""
    started: list[LiveHub] = []

    def make(config: dict[str, Any] | None = None, **overrides: Any) -> LiveHub:
        path = write_config(tmp_path, config) if config else None
        hub = LiveHub(hub_settings(database_url, path, **overrides)).start()
        started.append(hub)
        return hub

    yield make
    for hub in started:
        hub.stop()


@pytest.fixture
def partner_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment variable the ``PARTNER`` client's password is read from."""
    monkeypatch.setenv("P1_PASSWORD", PASSWORD)


def as_json(body: Any) -> dict[str, Any]:
    """httpx arguments sending ``body`` as any JSON writer does, a lone surrogate (``"\\ud800"``) as
    its escape: httpx's own ``json=`` writes UTF-8, which cannot hold one."""
    return {"content": json.dumps(body), "headers": {"content-type": "application/json"}}


def channel(name: str, pattern: str, url: str, **extra: Any) -> dict[str, Any]:
    """A minimal channel document with one primary route."""
    routes = extra.pop("routes", None) or [{"name": f"{name}-primary", "url": url, "primary": True}]
    return {
        "name": name,
        "url_pattern": pattern,
        "allowed_roles": extra.pop("allowed_roles", ["partner"]),
        "routes": routes,
        **extra,
    }


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's own metadata database, created once per test process, so ``dag.test()`` can run."""
    from airflow.utils import db as airflow_db_utils

    airflow_db_utils.initdb()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def hub_cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """Invoke ``hub …`` in-process with HUB_DATABASE_URL pointing at the test's database; its
    output, once it exits 0."""
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_LOG_FORMAT", "console")
    get_settings.cache_clear()

    def invoke(*args: str) -> str:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    yield invoke
    get_settings.cache_clear()
