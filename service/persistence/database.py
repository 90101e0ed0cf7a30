"""The engine's pool, timeout and durability options, and the checks run before serving:
reachable, durable (an acknowledged command survives a crash), at head.
"""

from __future__ import annotations

import sqlite3
from functools import cache
from typing import Any

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from service.persistence.migrate import alembic_config, upgrade
from service.settings import Settings

# pg_advisory_lock key held while migrating, so that instances starting together migrate in turn.
MIGRATION_LOCK = 0x6B6173616E65  # "kasane"
# SQLite `PRAGMA synchronous` levels that sync the WAL on every commit: FULL (2) and EXTRA (3).
SQLITE_DURABLE_SYNCHRONOUS = (2, 3)
# PostgreSQL `synchronous_commit` values that wait for the local WAL flush before answering.
POSTGRES_DURABLE_COMMIT = ("on", "local", "remote_write", "remote_apply")


class DatabaseNotReady(RuntimeError):
    """The database can't serve Kasane: unreachable, or not migrated to this code's head."""


class DurableSQLiteConnection(sqlite3.Connection):
    """A SQLite connection in WAL mode that syncs every commit to disk (`synchronous=FULL`).

    A command is acknowledged only after its transaction commits; with FULL the commit is on
    disk by then, so neither a killed process nor a power cut loses an acknowledged command.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute("PRAGMA journal_mode=WAL").fetchall()
        self.execute("PRAGMA synchronous=FULL").fetchall()


def engine_options(settings: Settings) -> dict[str, Any]:
    """Return `create_engine` keyword arguments for the configured database."""
    backend = make_url(settings.database_url).get_backend_name()
    if backend == "sqlite":
        # One file, one writer: the pool settings don't apply; wait for a lock instead of failing.
        return {
            "connect_args": {
                "timeout": settings.db_sqlite_busy_timeout_ms / 1000,
                "factory": DurableSQLiteConnection,
            }
        }
    options: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout_seconds,
        "pool_pre_ping": True,  # a database restart or failover leaves dead pooled connections
    }
    if backend == "postgresql":
        connect_args: dict[str, Any] = {"connect_timeout": settings.db_connect_timeout_seconds}
        # Every commit waits for its WAL flush, whatever the server's default says.
        server_options = ["-c synchronous_commit=on"]
        if settings.db_statement_timeout_ms > 0:
            server_options.append(f"-c statement_timeout={settings.db_statement_timeout_ms}")
        connect_args["options"] = " ".join(server_options)
        options["connect_args"] = connect_args
    return options


def create_database_engine(settings: Settings) -> Engine:
    """Return an engine on the configured database with the configured options."""
    return create_engine(settings.database_url, **engine_options(settings))


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _reason(exc: DBAPIError) -> str:
    lines = str(exc.orig).strip().splitlines()
    return lines[0] if lines else type(exc.orig).__name__


def check_reachable(engine: Engine) -> None:
    """Raise DatabaseNotReady unless a connection can be opened and used."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        raise DatabaseNotReady(
            f"cannot connect to the database at {_where(engine)}: {_reason(exc)}"
        ) from None


@cache
def _script_revisions() -> tuple[frozenset[str], frozenset[str]]:
    """Return the migration scripts' (heads, every revision); they don't change while running."""
    script = ScriptDirectory.from_config(alembic_config(""))
    return frozenset(script.get_heads()), frozenset(s.revision for s in script.walk_revisions())


def check_migrated(engine: Engine) -> None:
    """Raise DatabaseNotReady unless the database's Alembic revision is this code's head."""
    heads, known = _script_revisions()
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current == heads:
        return
    if not current:
        problem = "has no Kasane schema (never migrated)"
    elif unknown := sorted(current - known):
        problem = f"is at revision {', '.join(unknown)}, which this code doesn't know (newer?)"
    else:
        problem = f"is at revision {', '.join(sorted(current))}, not {', '.join(sorted(heads))}"
    raise DatabaseNotReady(
        f"the database at {_where(engine)} {problem}: run `kasane migrate` with this version"
    )


def check_durable(engine: Engine) -> None:
    """Raise DatabaseNotReady unless a commit is on disk before the command is acknowledged.

    SQLite: WAL with `synchronous` FULL or EXTRA on the engine's connections. PostgreSQL:
    `synchronous_commit` on (the engine sets it on each connection) and the server's `fsync` on.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            mode = str(conn.execute(text("PRAGMA journal_mode")).scalar_one()).lower()
            synchronous = int(conn.execute(text("PRAGMA synchronous")).scalar_one())
            if mode == "memory":  # an in-memory database has nothing to lose to a crash
                return
            if mode != "wal" or synchronous not in SQLITE_DURABLE_SYNCHRONOUS:
                raise DatabaseNotReady(
                    f"the SQLite database at {_where(engine)} runs with journal_mode={mode} and "
                    f"synchronous={synchronous}: Kasane needs journal_mode=wal and "
                    "synchronous=FULL (2), or a crash could lose acknowledged commands"
                )
        elif conn.dialect.name == "postgresql":
            commit = str(conn.execute(text("SHOW synchronous_commit")).scalar_one())
            if commit not in POSTGRES_DURABLE_COMMIT:
                raise DatabaseNotReady(
                    f"the PostgreSQL database at {_where(engine)} runs with "
                    f"synchronous_commit={commit}: a crash could lose acknowledged commands"
                )
            if str(conn.execute(text("SHOW fsync")).scalar_one()) != "on":
                raise DatabaseNotReady(
                    f"the PostgreSQL server at {_where(engine)} runs with fsync=off: an "
                    "operating-system crash could lose acknowledged commands"
                )


def check_writable(engine: Engine, timeout_ms: int = 1_000) -> None:
    """Take the database's write lock in a transaction rolled back at once.

    Raises the driver's error (wrapped by SQLAlchemy) when another writer holds the lock for
    `timeout_ms`, the file or server is read-only, or the connection fails. SQLite:
    `BEGIN IMMEDIATE`; PostgreSQL: a transaction id is assigned (refused on a standby).
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            previous = int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one())
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(timeout_ms)}")
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                conn.exec_driver_sql("ROLLBACK")
            finally:
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {previous}")
        elif conn.dialect.name == "postgresql":
            conn.execute(text(f"SET LOCAL statement_timeout = {int(timeout_ms)}"))
            conn.execute(text("SELECT txid_current()"))
            conn.rollback()


def check_database(engine: Engine) -> None:
    """Raise DatabaseNotReady unless the database is reachable, durable and migrated to head."""
    check_reachable(engine)
    try:
        check_durable(engine)
        check_migrated(engine)
    except DBAPIError as exc:
        raise DatabaseNotReady(f"checking the database failed: {_reason(exc)}") from None


def migrate_to_head(engine: Engine, database_url: str) -> None:
    """Migrate to head, one instance at a time on PostgreSQL; raise DatabaseNotReady on failure."""
    check_reachable(engine)
    try:
        with engine.connect() as lock:
            if lock.dialect.name == "postgresql":
                # Wait for another instance's migration however long it takes.
                lock.execute(text("SET LOCAL statement_timeout = 0"))
                lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
                lock.commit()
            try:
                upgrade(database_url)
            finally:
                if lock.dialect.name == "postgresql":
                    lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                    lock.commit()
    except (CommandError, SQLAlchemyError) as exc:
        detail = _reason(exc) if isinstance(exc, DBAPIError) else str(exc).splitlines()[0]
        raise DatabaseNotReady(
            f"migrating the database at {_where(engine)} failed: {detail}"
        ) from None
    check_database(engine)
