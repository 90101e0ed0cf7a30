"""Benchmark 6: benchmarks 1 and 2 on PostgreSQL, with one and with two service instances.

A throw-away cluster (tests/pgcluster.py) is started with PostgreSQL's durable defaults
(fsync, synchronous_commit and full_page_writes on; the test suite's cluster turns them off).
The append floor inserts the same rows with psycopg into a table of the same shape, one
transaction per command. Two instances: two uvicorn processes on one database, the 32
connections spread over them (each with its own no-op floor in the same run).
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg

from bench import command_path
from bench.append import many_cases_commands, one_case_commands, store_append
from bench.common import Row, Server, application, at_least, drive, info, knob, serve
from service.persistence.migrate import upgrade
from tests.pgcluster import PostgresCluster, find_binaries

RAW_SCHEMA = """
CREATE TABLE raw_events (
    id BIGSERIAL PRIMARY KEY,
    originator_id UUID NOT NULL,
    originator_version BIGINT NOT NULL,
    topic TEXT NOT NULL,
    state BYTEA NOT NULL
);
CREATE UNIQUE INDEX raw_events_aggregate_idx ON raw_events (originator_id, originator_version);
"""


# A pooled connection per worker thread (anyio's default is 40): with fewer, requests beyond the
# pool open and close a PostgreSQL connection each (a backend process each).
POOL = {"KASANE_DB_POOL_SIZE": "40"}


class DurableCluster(PostgresCluster):
    """The test suite's throw-away cluster, with PostgreSQL's durable defaults."""

    def _options(self) -> str:
        return f"-k {self.tmpdir} -h 127.0.0.1 -p {self.port} -c max_connections=200"


def _database(cluster: PostgresCluster, name: str) -> str:
    with psycopg.connect(
        f"host=127.0.0.1 port={cluster.port} user=kasane dbname=postgres", autocommit=True
    ) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"postgresql+psycopg://kasane@127.0.0.1:{cluster.port}/{name}"


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def append_rows(url: str) -> list[Row]:
    """Benchmark 2 on PostgreSQL (one instance)."""
    n = max(100, knob("append_commands") // 2)
    result = []
    for label, commands in (
        (f"one case, {n} commands x 1 event", one_case_commands(n)),
        (f"{n} cases, 1 command x 4 events", many_cases_commands(n)),
    ):
        app = application(url)
        try:
            if len(commands[0]) == 1:
                store_append(app, commands[:2])
                commands = commands[2:]
            seconds, events = store_append(app, commands)
        finally:
            app.close()
        with psycopg.connect(_dsn(url)) as conn:
            wanted = {(e.originator_id, e.originator_version) for c in commands for e in c}
            stored = {
                (r[0], r[1]): (r[2], r[3])
                for r in conn.execute(
                    "SELECT originator_id, originator_version, topic, state FROM kasane_events"
                )
                if (r[0], r[1]) in wanted
            }
            conn.execute("DROP TABLE IF EXISTS raw_events")
            conn.execute(RAW_SCHEMA)
            conn.commit()
            batches = [
                [
                    (
                        e.originator_id,
                        e.originator_version,
                        *stored[(e.originator_id, e.originator_version)],
                    )
                    for e in c
                ]
                for c in commands
            ]
            started = time.perf_counter()
            for batch in batches:
                with conn.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO raw_events (originator_id, originator_version, topic, state)"
                        " VALUES (%s, %s, %s, %s)",
                        batch,
                    )
                conn.commit()
            raw_seconds = time.perf_counter() - started
        result.append(
            at_least(
                f"PostgreSQL append: {label}, events/s",
                events / seconds,
                "ev/s",
                events / raw_seconds,
                0.5,
            )
        )
    return result


def command_rows(url: str, directory: Path) -> list[Row]:
    """Benchmark 1 on PostgreSQL with one and with two instances."""
    result: list[Row] = []
    for instances in (1, 2):
        cases = command_path.seed(url, 65)  # fresh: the previous load moved the versions on
        with ExitStack() as stack:
            servers = [
                stack.enter_context(
                    serve(url, directory / f"pg-server-{instances}-{i}.log", **POOL)
                )
                for i in range(instances)
            ]
            command_path.warm(servers[0], directory, cases[-1:])
            spec: dict[str, Any] = {"ports": [s.port for s in servers]}
            noop = _load(servers[0], directory, "noop", cases[:-1], spec)
            command = _load(servers[0], directory, "command", cases[:-1], spec)
        prefix = f"PostgreSQL, {instances} instance{'s' if instances > 1 else ''}: "
        result += command_path.rows(prefix, noop, command)
    return result


def _load(
    server: Server, directory: Path, mode: str, cases: list[list[Any]], extra: dict[str, Any]
) -> dict[str, Any]:
    spec = {
        "connections": command_path.CONNECTIONS,
        "warmup": knob("warmup"),
        "duration": knob("duration"),
        "mode": mode,
        "key": command_path.COORDINATOR_KEY,
        "body": command_path.ATTEMPT,
        "path": command_path.NOOP_PATH if mode == "noop" else command_path.COMMAND_PATH,
        "cases": cases,
        **extra,
    }
    return drive(server, spec, directory)


def measure(directory: Path) -> list[Row]:
    """Every PostgreSQL row, or one row saying why there are none."""
    if find_binaries() is None:
        return [
            info("PostgreSQL: binaries not found, SKIPPED (apt-get install postgresql)", 0, "-")
        ]
    with DurableCluster() as cluster:
        append_url = _database(cluster, "bench_append")
        upgrade(append_url)
        rows = append_rows(append_url)
        command_url = _database(cluster, "bench_command")
        upgrade(command_url)
        rows += command_rows(command_url, directory)
    return rows
