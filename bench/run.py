"""`make bench`: run every benchmark, print the table, write bench/results/*.json.

BENCH_SCALE=small|full (default full); BENCH_ONLY=command,append,replay,rebuild,growth,postgres
(default all; rebuild includes the state report's memory). Other knobs: bench/README.md.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import append, command_path, growth, postgres, rebuild, replay
from bench.common import RESULTS, Row, migrated_sqlite, scale_name, serve, workdir


def _command(directory: Path) -> list[Row]:
    url = migrated_sqlite(directory)
    cases = command_path.seed(url, 65)
    with serve(url, directory / "server.log") as server:
        return command_path.measure(server, directory, cases)


BENCHMARKS: dict[str, Callable[[Path], list[Row]]] = {
    "command": _command,
    "append": append.measure,
    "replay": replay.measure,
    "rebuild": rebuild.measure,
    "growth": growth.measure,
    "postgres": postgres.measure,
}


def _format(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def table(rows: list[Row]) -> str:
    """Return the rows as a Markdown table."""
    lines = [
        "| benchmark | value | unit | floor | ratio | target | met |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for r in rows:
        met = "-" if r.met is None else ("yes" if r.met else "**no**")
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}"
        lines.append(
            f"| {r.name} | {_format(r.value)} | {r.unit} | {_format(r.floor)} | {ratio} "
            f"| {r.target} | {met} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run the chosen benchmarks in order; print and save the table."""
    only = [n.strip() for n in os.environ.get("BENCH_ONLY", "").split(",") if n.strip()]
    names = only or list(BENCHMARKS)
    rows: list[Row] = []
    started = time.monotonic()
    for name in names:
        began = time.monotonic()
        with workdir(f"kasane-bench-{name}-") as directory:
            try:
                got = BENCHMARKS[name](directory)
            except Exception as exc:  # a failed benchmark is a row, the others still run
                got = [
                    Row(
                        f"{name}: FAILED {type(exc).__name__}: {exc}"[:200],
                        0,
                        "-",
                        None,
                        None,
                        "-",
                        False,
                    )
                ]
        rows += got
        print(f"# {name}: {time.monotonic() - began:.0f} s", flush=True)
        print(table(got), flush=True)
    elapsed = time.monotonic() - started
    print(f"\n## Kasane benchmarks, scale {scale_name()}, {elapsed:.0f} s\n")
    print(table(rows))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    document = {
        "scale": scale_name(),
        "benchmarks": names,
        "seconds": round(elapsed),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "rows": [r.as_dict() for r in rows],
    }
    for path in (RESULTS / f"{stamp}-{scale_name()}.json", RESULTS / f"latest-{scale_name()}.json"):
        path.write_text(json.dumps(document["rows"], ensure_ascii=False, indent=2) + "\n")
    print(f"\nwritten: bench/results/{stamp}-{scale_name()}.json")


if __name__ == "__main__":
    main()
