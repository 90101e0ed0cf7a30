"""Fixtures shared by the integration and e2e tiers: a migrated database per test.

SQLite (a file per test) by default; with `KASANE_TEST_POSTGRES` set to a server URL (for example
`postgresql+psycopg://kasane@127.0.0.1:5432/postgres`, see tests/pgcluster.py and
`make test-postgres`) each test gets a fresh PostgreSQL database cloned from a template that is
migrated once per session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from service.domain.values import Actor, Role
from service.main import create_app
from service.security.api_keys import create_api_key
from service.settings import Settings
from tests.databases import POSTGRES_ENV, Databases
from tests.databases import postgres_server_url as postgres_server_url_or_none


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """Return the URL of the test PostgreSQL server (`KASANE_TEST_POSTGRES`); skip without it."""
    url = postgres_server_url_or_none()
    if url is None:
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL server for this test")
    return url


@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    """Return the session's maker of migrated test databases (SQLite or PostgreSQL)."""
    made = Databases(postgres_server_url_or_none())
    yield made
    made.close()


@pytest.fixture
def database_url(tmp_path: Path, databases: Databases) -> Iterator[str]:
    """Return the URL of a freshly migrated database: a SQLite file, or a PostgreSQL database."""
    url = databases.create(tmp_path)
    yield url
    databases.drop(url)


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Return settings on the test database; the app seeds the development API keys."""
    return Settings(database_url=database_url)


@pytest.fixture
def make_client(settings: Settings) -> Callable[[], TestClient]:
    """Return a factory of clients on new app instances over the same database (a restart)."""

    def make() -> TestClient:
        return TestClient(create_app(settings))

    return make


@pytest.fixture
def client(make_client: Callable[[], TestClient]) -> TestClient:
    """Return a client of the API."""
    return make_client()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """Return an engine on the test database."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_api_key(engine: Engine) -> Callable[[str, Role], str]:
    """Return a factory of API keys for (municipality, role), agency `<municipality>-<role>`."""

    def make(municipality_id: str, role: Role) -> str:
        actor = Actor(municipality_id, f"{municipality_id}-{role}", role)
        return create_api_key(engine, f"test {municipality_id} {role}", actor)[1]

    return make
