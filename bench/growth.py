"""Benchmark 5: the command path's latency with a small and with a large history.

Both stores get the same freshly referred cases, which the load drives exactly as in benchmark
1; the large store also holds BENCH_GROWTH_EVENTS other events (about 50,000 cases of 100
events at full scale, made by bench/datagen.py with their list and detail rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import command_path
from bench.common import Row, at_most, info, knob, migrated_sqlite, serve
from bench.datagen import timed_generate

CASES = 64


def _run(directory: Path, events: int) -> tuple[dict[str, Any], dict[str, Any]]:
    sub = directory / f"growth-{events}"
    sub.mkdir()
    url = migrated_sqlite(sub)
    made = timed_generate(url, sub / "kasane.db", events, project=True, interleave=False)
    cases = command_path.seed(url, CASES)
    with serve(url, sub / "server.log") as server:
        command_path.warm(server, sub, cases[-1:])
        result = command_path.load(server, sub, "command", cases[:-1])
    (sub / "kasane.db").unlink()
    return made, result


def measure(directory: Path) -> list[Row]:
    """p50 and p99 with the large history against the small one."""
    small_events, large_events = knob("growth_small_events"), knob("growth_events")
    _, small = _run(directory, small_events)
    made, large = _run(directory, large_events)
    label = f"{large_events:,} vs {small_events:,} stored events"
    return [
        info(
            f"growth: generate {large_events:,} events ({made['cases']:,} cases)",
            made["seconds"],
            "s",
        ),
        at_most(f"growth: command p50, {label}", large["p50_ms"], "ms", small["p50_ms"], 1.2),
        at_most(f"growth: command p99, {label}", large["p99_ms"], "ms", small["p99_ms"], 1.2),
        info(
            "growth: commands/s, large / small history", large["rps"], f"req/s / {small['rps']:.0f}"
        ),
    ]
