"""Database failures on the request path, classified by cause and answered 503 with Retry-After.

Nothing was saved when one of these reaches a handler (the transaction rolled back), so the
client may retry the same request. The class is told from the driver's error under the
SQLAlchemy and eventsourcing wrappers: SQLite's extended result code, PostgreSQL's SQLSTATE.
Only the exception's type and the class are logged: a driver's message may quote the row.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass

import psycopg
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from eventsourcing.persistence import PersistenceError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import InterfaceError as SQLAlchemyInterfaceError
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from service.api.errors import problem

logger = logging.getLogger("kasane")


@dataclass(frozen=True)
class DatabaseFailure:
    """How one class of database failure is answered and logged."""

    status: int
    code: str
    title: str
    detail: str
    retry_after: int  # seconds

    @property
    def log_class(self) -> str:
        """Return the name logged for this class (its code)."""
        return self.code

    def answer(self, exc: BaseException) -> JSONResponse:
        """Log the failure at ERROR (class and exception type only); return its problem."""
        logger.error("database failure: %s (%s)", self.log_class, type(exc).__name__)
        response = problem(self.status, self.code, self.title, self.detail)
        response.headers["Retry-After"] = str(self.retry_after)
        return response


UNAVAILABLE = DatabaseFailure(
    503,
    "database_unavailable",
    "データベースに接続できません",
    "the database cannot be reached; nothing was saved; retry",
    5,
)
BUSY = DatabaseFailure(
    503,
    "database_busy",
    "データベースが混み合っています",
    "the database is locked by other work; nothing was saved; retry",
    1,
)
STATEMENT_TIMEOUT = DatabaseFailure(
    503,
    "statement_timeout",
    "データベースの処理が時間内に終わりませんでした",
    "the database did not finish in time; nothing was saved; retry",
    5,
)
# 503 rather than 507: every database failure is one retryable status to clients and load
# balancers; the distinct code tells the operator the disk needs space.
STORAGE_FULL = DatabaseFailure(
    503,
    "storage_full",
    "データベースの記憶領域が不足しています",
    "the database has no space left; nothing was saved; retry later",
    30,
)
# Readiness only: the schema is not this code's migration head (`kasane migrate`).
NOT_MIGRATED = DatabaseFailure(
    503,
    "database_not_migrated",
    "データベースの移行が完了していません",
    "the database is not at this version's migration head; run `kasane migrate`",
    30,
)

# SQLite primary result codes (the low byte of the extended code).
_SQLITE = {
    5: BUSY,  # SQLITE_BUSY
    6: BUSY,  # SQLITE_LOCKED
    13: STORAGE_FULL,  # SQLITE_FULL
    10: UNAVAILABLE,  # SQLITE_IOERR
    14: UNAVAILABLE,  # SQLITE_CANTOPEN
    8: UNAVAILABLE,  # SQLITE_READONLY
}
# PostgreSQL SQLSTATEs, exact first, then by class (the first two characters).
_SQLSTATE = {
    "53100": STORAGE_FULL,  # disk_full
    "57014": STATEMENT_TIMEOUT,  # query_canceled: statement_timeout
    "55P03": BUSY,  # lock_not_available: lock_timeout, NOWAIT
    "40001": BUSY,  # serialization_failure
    "40P01": BUSY,  # deadlock_detected
    "53300": UNAVAILABLE,  # too_many_connections
    "57P01": UNAVAILABLE,  # admin_shutdown
    "57P02": UNAVAILABLE,  # crash_shutdown
    "57P03": UNAVAILABLE,  # cannot_connect_now
    "25006": UNAVAILABLE,  # read_only_sql_transaction: a standby, or a failover under way
}
_SQLSTATE_CLASS = {"08": UNAVAILABLE, "53": BUSY, "58": UNAVAILABLE, "40": BUSY}

# The database layer: the event store's wrappers, SQLAlchemy's, and the drivers' own errors.
_DATABASE = (PersistenceError, SQLAlchemyError, sqlite3.Error, psycopg.Error)
# What a failing database raises (not a refused value, a conflict or a bug of ours).
_OPERATIONAL = (
    SQLAlchemyOperationalError,
    SQLAlchemyInterfaceError,
    PoolTimeout,
    StoreOperationalError,
    StoreInterfaceError,
)


def _chain(exc: BaseException) -> list[BaseException]:
    """Return `exc` and what it wraps: causes, contexts and SQLAlchemy's `orig`."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 16:
        current = todo.pop(0)
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]
        todo += [a for a in current.args if isinstance(a, BaseException)]
    return seen


def _from_driver(error: BaseException) -> DatabaseFailure | None:
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None:
            return _SQLITE.get(code & 0xFF)
        text = str(error).lower()  # no result code (raised by the module itself)
        if "full" in text:
            return STORAGE_FULL
        if "locked" in text or "busy" in text:
            return BUSY
        return None
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return _SQLSTATE.get(sqlstate) or _SQLSTATE_CLASS.get(sqlstate[:2])
    return None


def classify(exc: BaseException) -> DatabaseFailure | None:
    """Return the class of a database failure, or None when `exc` is not one."""
    if not isinstance(exc, _DATABASE):
        return None  # a bug raised while handling a database error is still a bug
    chain = _chain(exc)
    for error in chain:
        if (failure := _from_driver(error)) is not None:
            return failure
    for error in chain:
        if isinstance(error, PoolTimeout):
            return BUSY  # every pooled connection in use for `pool_timeout` seconds
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return UNAVAILABLE
    if isinstance(exc, _OPERATIONAL):
        return UNAVAILABLE  # connection refused, lost, or no code to tell more
    return None


def database_error_response(exc: BaseException) -> JSONResponse | None:
    """Return the 503 problem document for a database failure (logged), or None."""
    failure = classify(exc)
    return failure.answer(exc) if failure is not None else None
