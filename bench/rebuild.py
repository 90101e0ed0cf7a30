"""Benchmark 4 (projection rebuild) and the rebuild half of benchmark 7 (memory).

The store is made by bench/datagen.py (cases of 100 events). The rebuild runs in a process of
its own (`python -m bench.rebuild URL`), so that its peak RSS (VmHWM) is the rebuild's alone.
The floor reads the same rows in id order with sqlite3 and decodes each JSON state.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import (
    MUNICIPALITY,
    ROOT,
    Row,
    at_least,
    at_most,
    info,
    knob,
    migrated_sqlite,
    rss_kib,
)
from bench.datagen import timed_generate


def raw_read(path: Path) -> tuple[float, int]:
    """The floor: every event row in notification order, each state JSON-decoded."""
    conn = sqlite3.connect(path)
    started = time.perf_counter()
    count = 0
    cursor = conn.execute(
        "SELECT id, originator_id, originator_version, topic, state FROM kasane_events ORDER BY id"
    )
    while rows := cursor.fetchmany(1_000):
        for row in rows:
            json.loads(row[4])
        count += len(rows)
    seconds = time.perf_counter() - started
    conn.close()
    return seconds, count


def rebuild_in_child(url: str, what: str = "rebuild") -> dict[str, Any]:
    """Run the rebuild (or the state report) in its own process; return its seconds,
    position and peak RSS."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.rebuild", url, what],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _store(directory: Path, events: int) -> tuple[str, Path, dict[str, Any]]:
    sub = directory / f"rebuild-{events}"
    sub.mkdir()
    url = migrated_sqlite(sub)
    made = timed_generate(url, sub / "kasane.db", events)
    return url, sub / "kasane.db", made


def measure(directory: Path) -> list[Row]:
    """Rebuild the small and the large store; rate against raw for the large, memory for both."""
    small_events, large_events = knob("rebuild_small_events"), knob("rebuild_events")
    small_url, small_path, _ = _store(directory, small_events)
    small = rebuild_in_child(small_url)
    small_report = _report(small_url)
    small_path.unlink()
    large_url, large_path, made = _store(directory, large_events)
    raw_seconds, rows = raw_read(large_path)
    large = rebuild_in_child(large_url)
    assert large["position"] >= rows, (large, rows)
    large_report = _report(large_url)
    report_rows: list[Row]
    if isinstance(small_report, str) or isinstance(large_report, str):
        report_rows = [info(f"state report: not measured ({small_report or large_report})", 0, "-")]
    else:
        report_rows = [
            info(
                f"state report over a year, {large_events:,} stored events",
                large_report["seconds"],
                "s",
            ),
            at_most(
                f"memory: state report peak RSS, {large_events:,} vs {small_events:,} events",
                large_report["peak_kib"] / 1024,
                "MiB",
                small_report["peak_kib"] / 1024,
                1.2,
            ),
        ]
    return [
        info(
            f"rebuild: generate {large_events:,} events ({made['cases']:,} cases)",
            made["seconds"],
            "s",
        ),
        at_least(
            f"rebuild: {large_events:,} events into the read models, events/s",
            rows / large["seconds"],
            "ev/s",
            rows / raw_seconds,
            0.3,
        ),
        at_most(
            f"memory: rebuild peak RSS, {large_events:,} vs {small_events:,} events",
            large["peak_kib"] / 1024,
            "MiB",
            small["peak_kib"] / 1024,
            1.2,
        ),
        *report_rows,
    ]


def _report(url: str) -> dict[str, Any] | str:
    """The state report in its own process, or why it could not run."""
    try:
        return rebuild_in_child(url, "report")
    except subprocess.CalledProcessError as exc:
        lines = (exc.stderr or "").strip().splitlines()
        return lines[-1][:120] if lines else f"exit status {exc.returncode}"


def main() -> None:
    """Child: rebuild the read models of the store at argv[1]; print seconds and peak RSS."""
    from bench.common import application

    app = application(sys.argv[1])
    started = time.perf_counter()
    if sys.argv[2:] == ["report"]:  # a fiscal year of demo-city (service/reports/)
        from datetime import date

        app.report_figures(MUNICIPALITY, date(2026, 4, 1), date(2027, 3, 31))
        position = 0
    else:
        position = app.rebuild_read_models()
    seconds = time.perf_counter() - started
    app.close()
    _, peak = rss_kib(__import__("os").getpid())
    print(json.dumps({"seconds": seconds, "position": position, "peak_kib": peak}))


if __name__ == "__main__":
    main()
