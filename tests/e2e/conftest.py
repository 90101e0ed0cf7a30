"""Fixtures of the e2e tier (the builders are in `support.py`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.domain.values import Role
from service.main import create_app
from service.settings import DEVELOPMENT_API_KEYS, ApiKeyEntry, Settings

OTHER_COORDINATOR = "other-coordinator"


@pytest.fixture
def other_town_client(database_url: str) -> Iterator[TestClient]:
    """Return a client of an app over the same database that also knows a key of `other-town`."""
    settings = Settings(
        database_url=database_url,
        api_keys={
            **DEVELOPMENT_API_KEYS,
            OTHER_COORDINATOR: ApiKeyEntry(
                municipality_id="other-town", agency_id="x", role=Role.coordinator
            ),
        },
    )
    with TestClient(create_app(settings)) as client:
        yield client
