"""Fixtures of the e2e tier (the builders are in `support.py`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from service.domain.values import Actor, Role
from service.main import create_app
from service.security.api_keys import create_api_key
from service.settings import Settings

OTHER_COORDINATOR = "other-coordinator"


@pytest.fixture
def other_town_client(database_url: str, settings: Settings) -> Iterator[TestClient]:
    """Return a client of an app over the same database where `other-town` has a key too."""
    create_api_key(
        create_engine(database_url),
        "other town's coordinator",
        Actor("other-town", "x", Role.coordinator),
        key=OTHER_COORDINATOR,
    )
    with TestClient(create_app(settings)) as client:
        yield client
