"""Terminology fixtures: every test database already holds ICD-10, loaded once per session into a
template (a file copied per test on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL)."""

from __future__ import annotations

import base64
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fhirpy import SyncFHIRClient
from sqlalchemy import create_engine, text

from hub.db.session import Database
from terminology import icd10
from terminology.catalog import Catalog, catalog_for
from tests.conftest import (
    ADMIN,
    PG_URL,
    Dropper,
    LiveHub,
    _backends,
    cloned,
    hub_settings,
    pg_url,
    write_config,
)

ICD = icd10.URL
READER = ("terminology-reader", "reader-password-1")
AT_READER = ("reader@partner.example", "reader-password-2")  # a client id that looks like an e-mail


def _load_icd10(url: str) -> None:
    db = Database(url)
    try:
        with db.session() as session:
            icd10.load(session)
    finally:
        db.dispose()


@pytest.fixture(scope="session")
def icd10_sqlite_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("icd10") / "icd10.db"
    shutil.copy(sqlite_template, path)
    _load_icd10(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def icd10_pg_template(pg_template: str | None) -> Iterator[str | None]:
    if pg_template is None:
        yield None
        return
    name = f"hub_tpl_icd_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    _load_icd10(pg_url(name))
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=_backends())
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    icd10_sqlite_template: Path,
    icd10_pg_template: str | None,
    pg_dropper: Dropper | None,
) -> Iterator[str]:
    """Overrides the root fixture: a fresh database per test, with ICD-10 2019 loaded."""
    with cloned(request.param, tmp_path, icd10_sqlite_template, icd10_pg_template, pg_dropper) as url:
        yield url


@pytest.fixture
def catalog(db: Database) -> Catalog:
    return catalog_for(db)


@pytest.fixture(scope="module", params=_backends())
def shared_hub(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    icd10_sqlite_template: Path,
    icd10_pg_template: str | None,
    pg_dropper: Dropper | None,
) -> Iterator[LiveHub]:
    """One hub per module and backend, for tests that only read (its index is built once).
    Besides the admin user it knows the client ``READER`` (role ``partner``)."""
    directory = tmp_path_factory.mktemp("hub")
    config = write_config(
        directory,
        {
            "clients": [
                {
                    "client_id": READER[0],
                    "name": "Terminology reader",
                    "roles": ["partner"],
                    "password_env": "TX_READER_PASSWORD",
                },
                {
                    "client_id": AT_READER[0],
                    "name": "Partner reader",
                    "roles": ["partner"],
                    "password_env": "TX_AT_READER_PASSWORD",
                },
            ]
        },
    )
    with (
        pytest.MonkeyPatch.context() as env,
        cloned(request.param, directory, icd10_sqlite_template, icd10_pg_template, pg_dropper) as url,
    ):
        env.setenv("TX_READER_PASSWORD", READER[1])
        env.setenv("TX_AT_READER_PASSWORD", AT_READER[1])
        hub = LiveHub(hub_settings(url, config)).start()
        yield hub
        hub.stop()


def fhir_client(hub: LiveHub, auth: tuple[str, str] = ADMIN) -> SyncFHIRClient:
    """A fhirpy client (a real third-party FHIR client) for the hub's /fhir base."""
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    return SyncFHIRClient(f"{hub.url}/fhir", authorization=f"Basic {token}")
