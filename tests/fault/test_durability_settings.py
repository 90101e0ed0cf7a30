"""Issue #7, fault test 2 (its premise): an acknowledged commit is on disk, and the service
refuses to start on a database that would acknowledge commits it could still lose."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, event, text

from service.main import create_app
from service.persistence.database import DatabaseNotReady, check_database
from service.settings import Settings
from tests.databases import is_sqlite


def test_the_write_path_commits_synchronously(database_url: str) -> None:
    """SQLite: WAL with synchronous=FULL; PostgreSQL: fsync and synchronous_commit on."""
    kasane = create_app(Settings(database_url=database_url)).state.kasane
    with kasane.recorder.transaction(commit=False) as session:
        if is_sqlite(database_url):
            assert session.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert session.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL
        else:
            assert session.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
            assert session.execute(text("SHOW fsync")).scalar_one() == "on"
    kasane.engine.dispose()


@pytest.mark.parametrize(
    ("pragma", "refused"),
    [
        ("synchronous=NORMAL", "synchronous=1"),
        ("synchronous=OFF", "synchronous=0"),
        ("journal_mode=DELETE", "journal_mode=delete"),
    ],
)
def test_start_up_refuses_sqlite_that_does_not_sync_every_commit(
    database_url: str, pragma: str, refused: str
) -> None:
    """A SQLite connection that could lose an acknowledged commit stops the start-up checks."""
    if not is_sqlite(database_url):
        pytest.skip("SQLite's pragmas; PostgreSQL has its own test below")
    engine = create_engine(database_url)

    @event.listens_for(engine, "connect")
    def weaken(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=FULL")
        dbapi_connection.execute("PRAGMA journal_mode=WAL").fetchall()
        dbapi_connection.execute(f"PRAGMA {pragma}").fetchall()

    try:
        with pytest.raises(DatabaseNotReady, match=refused):
            check_database(engine)
    finally:
        engine.dispose()


def test_start_up_accepts_the_configured_sqlite_engine(database_url: str) -> None:
    """The engine the service builds passes the checks it is held to."""
    if not is_sqlite(database_url):
        pytest.skip("SQLite only")
    kasane = create_app(Settings(database_url=database_url)).state.kasane
    check_database(kasane.engine)
    kasane.engine.dispose()


def test_start_up_refuses_postgresql_without_synchronous_commit(database_url: str) -> None:
    """A session with synchronous_commit=off acknowledges commits before their WAL is flushed."""
    if is_sqlite(database_url):
        pytest.skip("PostgreSQL only")
    engine = create_engine(database_url, connect_args={"options": "-c synchronous_commit=off"})
    try:
        with pytest.raises(DatabaseNotReady, match="synchronous_commit=off"):
            check_database(engine)
    finally:
        engine.dispose()
