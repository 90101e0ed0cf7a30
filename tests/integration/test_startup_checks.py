"""The engine gets the configured options; the service refuses a database it can't serve from."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from service.main import create_app
from service.persistence.database import DatabaseNotReady
from service.persistence.migrate import upgrade
from service.settings import Settings

# Nothing listens on port 1: the connection is refused at once (the timeout bounds the worst case).
UNREACHABLE = "postgresql+psycopg://kasane@127.0.0.1:1/kasane"
KASANE = Path(sys.executable).parent / "kasane"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KASANE_DATABASE_URL": database_url,
        "KASANE_DB_CONNECT_TIMEOUT_SECONDS": "2",
    }
    return subprocess.run(
        [str(KASANE), "serve", "--port", str(_free_port())],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,  # a server that started instead of refusing fails the test here
    )


def _set_revision(database_url: str, revision: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def test_engine_options_reach_the_apps_engine(database_url: str) -> None:
    """Pool and statement timeout on PostgreSQL; the busy timeout on SQLite."""
    settings = Settings(
        database_url=database_url,
        db_pool_size=3,
        db_max_overflow=2,
        db_pool_timeout_seconds=7,
        db_statement_timeout_ms=1234,
        db_sqlite_busy_timeout_ms=4321,
    )
    kasane = create_app(settings).state.kasane
    engine = kasane.engine
    # The session the events and read models are written with is the one that matters.
    with kasane.recorder.transaction(commit=False) as session:
        if engine.dialect.name == "postgresql":
            assert session.execute(text("SHOW statement_timeout")).scalar_one() == "1234ms"
            assert engine.pool.size() == 3
            assert engine.pool._max_overflow == 2
            assert engine.pool._timeout == 7
        else:
            assert session.execute(text("PRAGMA busy_timeout")).scalar_one() == 4321


def test_statement_timeout_cancels_a_long_statement(database_url: str) -> None:
    """A statement that outlives KASANE_DB_STATEMENT_TIMEOUT_MS is cancelled (PostgreSQL)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("statement_timeout is PostgreSQL's; SQLite has only the busy timeout")
    settings = Settings(database_url=database_url, db_statement_timeout_ms=200)
    engine = create_app(settings).state.kasane.engine
    started = time.monotonic()
    with pytest.raises(OperationalError, match="statement timeout"), engine.connect() as conn:
        conn.execute(text("SELECT pg_sleep(5)"))
    assert time.monotonic() - started < 3


def test_create_app_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    """A database without the schema is refused with the command that fixes it."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(DatabaseNotReady, match=r"never migrated.*kasane migrate"):
        create_app(Settings(database_url=url))


def test_create_app_refuses_a_database_migrated_by_other_code(tmp_path: Path) -> None:
    """A revision this code doesn't know (a newer release migrated it) is refused."""
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    upgrade(url)
    _set_revision(url, "20991231_from_the_future")
    with pytest.raises(DatabaseNotReady, match="20991231_from_the_future, which this code"):
        create_app(Settings(database_url=url))


def test_create_app_refuses_an_unreachable_database_quickly() -> None:
    """No server: a clear error within the connect timeout, not a hang."""
    started = time.monotonic()
    with pytest.raises(
        DatabaseNotReady, match=r"cannot connect to the database at .*127\.0\.0\.1:1"
    ):
        create_app(Settings(database_url=UNREACHABLE, db_connect_timeout_seconds=2))
    assert time.monotonic() - started < 5


def test_serve_refuses_an_unreachable_database(tmp_path: Path) -> None:
    """`kasane serve` exits non-zero with the reason on stderr."""
    started = time.monotonic()
    result = _serve(UNREACHABLE, tmp_path)
    assert result.returncode != 0
    assert "kasane serve: refused to start: cannot connect to the database" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 30


def test_serve_refuses_when_migration_fails(tmp_path: Path) -> None:
    """`kasane serve` migrates first; a database it can't migrate is refused, not served."""
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    upgrade(url)
    _set_revision(url, "20991231_from_the_future")
    result = _serve(url, tmp_path)
    assert result.returncode != 0
    assert "kasane serve: refused to start: migrating the database" in result.stderr
    assert "20991231_from_the_future" in result.stderr
    assert "Traceback" not in result.stderr
