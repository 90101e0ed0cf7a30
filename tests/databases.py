"""Test databases on either engine: a SQLite file, or a PostgreSQL database cloned from a
migrated template (when `KASANE_TEST_POSTGRES` names a server, see tests/pgcluster.py).
"""

from __future__ import annotations

import json
import os
import queue
import threading
import uuid
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine, make_url

from service.persistence.migrate import upgrade

POSTGRES_ENV = "KASANE_TEST_POSTGRES"


def postgres_server_url() -> str | None:
    """Return the test PostgreSQL server's URL, or None to test on SQLite."""
    return os.environ.get(POSTGRES_ENV) or None


def is_sqlite(database_url: str) -> bool:
    """Tell whether `database_url` is a SQLite URL."""
    return make_url(database_url).get_backend_name() == "sqlite"


def _with_database(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


class Databases:
    """Create migrated databases for tests and drop them again.

    On PostgreSQL a database is a clone of a template migrated once (CREATE DATABASE … TEMPLATE);
    a cloning takes about half a second, so a background thread keeps a few clones ready while
    the tests run.
    """

    AHEAD = 2  # clones kept ready

    def __init__(self, server_url: str | None) -> None:
        self.server_url = server_url
        self.admin: Engine | None = None
        self.template: str | None = None
        self.created: set[str] = set()
        self.lock = threading.Lock()
        self.ready: queue.Queue[str | BaseException] = queue.Queue(maxsize=self.AHEAD)
        self.stopping = threading.Event()
        self.worker: threading.Thread | None = None

    def _clone(self) -> str:
        assert self.admin is not None
        name = f"kasane_{uuid.uuid4().hex}"
        with self.lock:
            self.created.add(name)
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        return name

    def _prepare(self) -> None:
        while not self.stopping.is_set():
            try:
                item: str | BaseException = self._clone()
            except BaseException as error:  # handed to the test that asks next
                item = error
            while not self.stopping.is_set():
                try:
                    self.ready.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if isinstance(item, BaseException):
                return

    def _start(self) -> None:
        assert self.server_url is not None
        self.admin = create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        self.template = f"kasane_template_{uuid.uuid4().hex}"
        with self.lock:
            self.created.add(self.template)
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.template}"'))
        upgrade(_with_database(self.server_url, self.template))
        self.worker = threading.Thread(target=self._prepare, name="test-databases", daemon=True)
        self.worker.start()

    def create(self, directory: Path) -> str:
        """Return the URL of a new, migrated database (SQLite: a file in `directory`)."""
        if self.server_url is None:
            url = f"sqlite:///{directory / 'kasane.db'}"
            upgrade(url)
            return url
        if self.admin is None:
            self._start()
        item = self.ready.get()
        if isinstance(item, BaseException):
            raise item
        return _with_database(self.server_url, item)

    def drop(self, database_url: str) -> None:
        """Drop a database made by `create` (closing its connections); SQLite: nothing to do."""
        name = make_url(database_url).database
        with self.lock:
            if self.admin is None or name not in self.created:
                return
            self.created.discard(name)
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        """Stop preparing, then drop whatever is left, the template last."""
        if self.admin is None:
            return
        self.stopping.set()
        if self.worker is not None:
            self.worker.join()
        with self.lock:
            left = [*sorted(self.created - {self.template}), str(self.template)]
            self.created.clear()
        with self.admin.connect() as conn:
            for name in left:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()
        self.admin = None


def database_bytes(database_url: str) -> bytes:
    """Return everything stored: the SQLite file (with its WAL), or every row of every table
    (bytes as stored, other values as text) on PostgreSQL — what a disk thief would read.
    """
    if is_sqlite(database_url):
        path = Path(make_url(database_url).database or "")
        return b"".join(
            p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
        )
    engine = create_engine(database_url)
    chunks: list[bytes] = []
    try:
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                    for value in row:
                        if isinstance(value, bytes | bytearray | memoryview):
                            chunks.append(bytes(value))
                        elif isinstance(value, dict | list):
                            chunks.append(json.dumps(value, ensure_ascii=False).encode())
                        elif value is not None:
                            chunks.append(str(value).encode())
                        chunks.append(b"\x00")
    finally:
        engine.dispose()
    return b"".join(chunks)
