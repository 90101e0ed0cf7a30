"""Fixtures shared by the integration and e2e tiers: a migrated SQLite file per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from service.domain.values import Actor, Role
from service.main import create_app
from service.persistence.migrate import upgrade
from service.security.api_keys import create_api_key
from service.settings import Settings


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Return the URL of a freshly migrated SQLite database file."""
    url = f"sqlite:///{tmp_path / 'kasane.db'}"
    upgrade(url)
    return url


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
