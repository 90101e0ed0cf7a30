"""Benchmark 5: the command path's latency with a small and with a large history.

Both stores get the same number of freshly referred cases, which the load drives exactly as in
benchmark 1; the large store also holds BENCH_GROWTH_EVENTS other events (about 50,000 cases of
100 events at full scale, made by bench/datagen.py with their list and detail rows). Both
servers run side by side and the loads alternate (small, large, small, large), so that the
machine's other work falls on both alike.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from statistics import mean
from typing import Any

from bench import command_path
from bench.common import Row, at_most, info, knob, migrated_sqlite, serve
from bench.datagen import timed_generate

CASES = 65
ROUNDS = 2


def _store(directory: Path, events: int) -> tuple[str, dict[str, Any]]:
    sub = directory / f"growth-{events}"
    sub.mkdir()
    url = migrated_sqlite(sub)
    made = timed_generate(url, sub / "kasane.db", events, project=True, interleave=False)
    return url, made


def measure(directory: Path) -> list[Row]:
    """p50 and p99 with the large history against the small one."""
    small_events, large_events = knob("growth_small_events"), knob("growth_events")
    small_url, _ = _store(directory, small_events)
    large_url, made = _store(directory, large_events)
    results: dict[str, list[dict[str, Any]]] = {"small": [], "large": []}
    with ExitStack() as stack:
        servers = {}
        for name, url in (("small", small_url), ("large", large_url)):
            servers[name] = stack.enter_context(serve(url, directory / f"growth-{name}.log"))
        for _ in range(ROUNDS):
            for name, url in (("small", small_url), ("large", large_url)):
                cases = command_path.seed(url, CASES)  # fresh cases and versions each round
                command_path.warm(servers[name], directory, cases[-1:])
                results[name].append(
                    command_path.load(servers[name], directory, "command", cases[:-1])
                )

    def avg(name: str, key: str) -> float:
        return mean(r[key] for r in results[name])

    label = f"{large_events:,} vs {small_events:,} stored events"
    return [
        info(
            f"growth: generate {large_events:,} events ({made['cases']:,} cases)",
            made["seconds"],
            "s",
        ),
        at_most(
            f"growth: command p50, {label}",
            avg("large", "p50_ms"),
            "ms",
            avg("small", "p50_ms"),
            1.2,
        ),
        at_most(
            f"growth: command p99, {label}",
            avg("large", "p99_ms"),
            "ms",
            avg("small", "p99_ms"),
            1.2,
        ),
        info(
            "growth: commands/s, large / small history",
            avg("large", "rps"),
            f"req/s / {avg('small', 'rps'):.0f}",
        ),
    ]
