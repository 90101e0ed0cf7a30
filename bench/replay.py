"""Benchmark 3: loading a case of 1,000 and of 10,000 events against a raw SELECT + JSON decode.

The case is one referral, consent, assessment start and then contact attempts, appended through
the store. "Without snapshots" replays every event; "with snapshots" loads the latest snapshot
(taken 25 events before the head, half the snapshot interval: the average case) and the events
after it. The floor reads the same event rows with sqlite3 and decodes each state with `json`.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import project_aggregate

from bench.append import one_case_commands, store_append
from bench.common import Row, application, at_most, best_of, info, migrated_sqlite
from service.application.kasane import project_events

SIZES = (1_000, 10_000)
BEHIND = 25  # events after the snapshot


def build(app: Any, events: int) -> UUID:
    """Append a case of `events` events (in commands of up to 500 events); return its id."""
    commands = one_case_commands(events - 3)
    store_append(app, commands[:2])
    rest = [e for command in commands[2:] for e in command]
    store_append(app, [rest[i : i + 500] for i in range(0, len(rest), 500)])
    return UUID(str(commands[0][0].originator_id))


def raw_read(path: Path, case_id: UUID) -> list[Any]:
    """The floor: SELECT the case's rows in version order and decode each JSON state."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT topic, state FROM kasane_events WHERE originator_id = ?"
            " ORDER BY originator_version",
            (case_id.bytes,),
        ).fetchall()
        return [json.loads(state) for _, state in rows]
    finally:
        conn.close()


def measure(directory: Path) -> list[Row]:
    """Rows for each size: plain replay, the library's projector, with a snapshot."""
    result: list[Row] = []
    with_snapshot: dict[int, float] = {}
    for size in SIZES:
        sub = directory / f"replay-{size}"
        sub.mkdir()
        app = application(migrated_sqlite(sub))
        try:
            case_id = build(app, size)
            repeat = 7 if size <= 1_000 else 3
            raw = best_of(repeat, lambda: raw_read(sub / "kasane.db", case_id))  # noqa: B023
            plain = best_of(
                repeat,
                lambda: app.repository.get(case_id, projector_func=project_events),  # noqa: B023
            )
            library = best_of(
                repeat,
                lambda: app.repository.get(case_id, projector_func=project_aggregate),  # noqa: B023
            )
            with app.recorder.transaction(commit=True):
                app.take_snapshot(case_id, version=size - BEHIND, projector_func=project_events)
            snap = best_of(
                repeat,
                lambda: app.repository.get(case_id, projector_func=project_events),  # noqa: B023
            )
            assert app.repository.get(case_id).version == size
        finally:
            app.close()
        with_snapshot[size] = snap
        result += [
            at_most(f"replay {size:,} events, no snapshot", plain * 1000, "ms", raw * 1000, 3.0),
            info(f"replay {size:,} events, library projector (before)", library * 1000, "ms"),
            at_most(f"replay {size:,} events, with snapshot", snap * 1000, "ms", raw * 1000, 3.0),
        ]
    small, large = SIZES
    result.append(
        at_most(
            f"replay with snapshot: {large:,} vs {small:,} events",
            with_snapshot[large] * 1000,
            "ms",
            with_snapshot[small] * 1000,
            1.2,
        )
    )
    return result
