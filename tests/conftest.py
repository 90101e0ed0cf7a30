"""Fixtures shared by the integration and e2e tiers: a migrated SQLite file per test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from service.persistence.migrate import upgrade
from service.settings import Settings


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Return the URL of a freshly migrated SQLite database file."""
    url = f"sqlite:///{tmp_path / 'kasane.db'}"
    upgrade(url)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Return settings on the test database with the development key table."""
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
