"""Benchmark 2: the store's append against raw sqlite3 inserts of the same rows.

The store's append is `EventStore.put` of the application: the mapper (personal fields sealed
with the person's key, JSON) and eventsourcing-sqlalchemy's insert, one transaction per command.
The floor inserts the very rows the store wrote (same topic, same state bytes, same grouping into
transactions) with the standard library's sqlite3 into a table of the same shape, with the same
durability settings (WAL, synchronous=FULL).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from bench.common import (
    ATTEMPT,
    CONSENT,
    COORDINATOR,
    HOUSEHOLD,
    PERSON,
    REFERRAL,
    Row,
    application,
    at_least,
    knob,
    migrated_sqlite,
)
from service.domain.case import SupportCase

RAW_SCHEMA = """
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    originator_id BLOB NOT NULL,
    originator_version INTEGER NOT NULL,
    topic TEXT NOT NULL,
    state BLOB NOT NULL
);
CREATE UNIQUE INDEX events_aggregate_idx ON events (originator_id, originator_version);
"""


def raw_connection(path: Path, schema: str = RAW_SCHEMA) -> sqlite3.Connection:
    """A sqlite3 connection with the service's durability settings and the table."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(schema)
    return conn


def one_case_commands(n: int) -> list[list[Any]]:
    """One case: the referral, then `n` commands of one event each (contact attempts)."""
    case = SupportCase.refer(COORDINATOR, dict(REFERRAL), dict(PERSON), list(HOUSEHOLD))
    commands = [case.collect_events()]
    case.give_consent(COORDINATOR, dict(CONSENT))
    case.start_assessment(COORDINATOR)
    commands.append(case.collect_events())
    for _ in range(n):
        case.record_contact_attempt(COORDINATOR, dict(ATTEMPT))
        commands.append(case.collect_events())
    return commands


def many_cases_commands(n: int) -> list[list[Any]]:
    """`n` cases, each one command of four events (referral, consent, assessment, contact)."""
    commands = []
    for _ in range(n):
        case = SupportCase.refer(COORDINATOR, dict(REFERRAL), dict(PERSON), list(HOUSEHOLD))
        case.give_consent(COORDINATOR, dict(CONSENT))
        case.start_assessment(COORDINATOR)
        case.record_contact_attempt(COORDINATOR, dict(ATTEMPT))
        commands.append(case.collect_events())
    return commands


def store_append(app: Any, commands: list[list[Any]]) -> tuple[float, int]:
    """Put each command's events in its own transaction; return (seconds, events).

    As in `Kasane._commit`, a new case's data keys are created in the transaction that seals
    its referral with them.
    """
    started = time.perf_counter()
    for events in commands:
        with app.recorder.transaction(commit=True) as session:
            if events[0].originator_version == 1:
                app.keys.ensure(session, str(events[0].originator_id), ["person", "member-1"])
            app.events.put(events)
        app.keys.settle()
    return time.perf_counter() - started, sum(len(e) for e in commands)


def stored_rows(store: Path, commands: list[list[Any]]) -> list[list[tuple[Any, ...]]]:
    """The rows the store wrote for `commands`, grouped by command."""
    source = sqlite3.connect(store)
    rows = {
        (bytes(r[0]), r[1]): (r[2], bytes(r[3]))
        for r in source.execute(
            "SELECT originator_id, originator_version, topic, state FROM kasane_events"
        )
    }
    source.close()
    return [
        [
            (
                e.originator_id.bytes,
                e.originator_version,
                *rows[(e.originator_id.bytes, e.originator_version)],
            )
            for e in events
        ]
        for events in commands
    ]


def raw_append(conn: sqlite3.Connection, batches: list[list[tuple[Any, ...]]]) -> float:
    """Insert the rows, one transaction per command; return seconds."""
    started = time.perf_counter()
    for batch in batches:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO events (originator_id, originator_version, topic, state)"
            " VALUES (?, ?, ?, ?)",
            batch,
        )
        conn.execute("COMMIT")
    return time.perf_counter() - started


def measure(directory: Path) -> list[Row]:
    """Both shapes: one case with many events, many cases with few.

    The store and the floor run in alternating slices, so that a burst of disk activity from
    elsewhere on the machine falls on both alike.
    """
    n = knob("append_commands")
    result = []
    for label, commands in (
        (f"one case, {n} commands x 1 event", one_case_commands(n)),
        (f"{n} cases, 1 command x 4 events", many_cases_commands(n)),
    ):
        sub = directory / label.split(",")[0].replace(" ", "-")
        sub.mkdir()
        app = application(migrated_sqlite(sub))
        raw = raw_connection(sub / "raw.db")
        seconds = raw_seconds = 0.0
        events = 0
        try:
            if len(commands[0]) == 1:  # the referral and the first commands are set-up
                store_append(app, commands[:2])
                commands = commands[2:]
            slices = 5
            for i in range(slices):
                part = commands[i * len(commands) // slices : (i + 1) * len(commands) // slices]
                took, count = store_append(app, part)
                seconds += took
                events += count
                raw_seconds += raw_append(raw, stored_rows(sub / "kasane.db", part))
        finally:
            app.close()
            raw.close()
        result.append(
            at_least(
                f"append: {label}, events/s", events / seconds, "ev/s", events / raw_seconds, 0.5
            )
        )
    return result
