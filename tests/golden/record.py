"""Re-record the golden histories: `python -m tests.golden.record [name ...]`.

Runs each scenario of tests/golden/scenarios.py on a fresh SQLite database with a fixed clock
and fixed ids, and writes tests/golden/histories/<name>.json: the events in stored form, and
the read models and states they rebuild to. Review the diff before committing it: a changed
expectation means replaying old histories now gives another result.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock
from uuid import UUID

import eventsourcing.domain

from service.application.kasane import Kasane
from service.clock import ManualClock
from service.persistence.migrate import upgrade
from tests.golden.history import (
    HISTORIES,
    canonical,
    fixture_text,
    history_path,
    read_models,
    replay,
    states,
    stored_events,
)
from tests.golden.scenarios import EDITS, SCENARIOS, environment

EPOCH = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)


@contextmanager
def fixed_clock_and_ids(seed: str) -> Iterator[None]:
    """Events get timestamps a second apart from EPOCH and ids from a seeded generator."""
    rng = random.Random(seed)
    ticks = iter(range(10**9))

    def now() -> datetime:
        return EPOCH + timedelta(seconds=next(ticks))

    def new_id() -> UUID:
        return UUID(int=rng.getrandbits(128), version=4)

    with (
        mock.patch.object(eventsourcing.domain, "datetime_now_with_tzinfo", now),
        mock.patch.object(eventsourcing.domain, "uuid4", new_id),
    ):
        yield


def record(name: str) -> Path:
    """Run one scenario and write its history; return the file written."""
    with tempfile.TemporaryDirectory() as tmp, environment(name):
        url = f"sqlite:///{Path(tmp) / 'golden.db'}"
        upgrade(url)
        app = Kasane(url, clock=ManualClock(EPOCH))  # the days commands stamp (drafted_on)
        with fixed_clock_and_ids(name):
            SCENARIOS[name](app)
        events = stored_events(app)
        if name in EDITS:
            events = EDITS[name](events)
        ids = list(dict.fromkeys(e["originator_id"] for e in events))
        history = {
            "scenario": name,
            "events": events,
            "read_models": read_models(app),
            "states": states(app, ids),
        }
        app.engine.dispose()
        # What is written must be what a replay gives: check it before writing.
        url2 = f"sqlite:///{Path(tmp) / 'replay.db'}"
        upgrade(url2)
        again = Kasane(url2)
        replay(again, json.loads(fixture_text(history))["events"])  # as the file will hold
        assert canonical(read_models(again)) == canonical(history["read_models"]), name
        assert canonical(states(again, ids)) == canonical(history["states"]), name
        again.engine.dispose()
    HISTORIES.mkdir(exist_ok=True)
    path = history_path(name)
    path.write_text(fixture_text(history), encoding="utf-8")
    return path


def main(argv: list[str]) -> int:
    """Record the named scenarios, or all of them."""
    names = argv or sorted(SCENARIOS)
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    for name in names:
        print(f"recorded {record(name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
