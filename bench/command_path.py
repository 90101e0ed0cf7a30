"""Benchmark 1 (command path over HTTP) and the load half of benchmark 7 (memory)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.common import (
    ATTEMPT,
    COORDINATOR_KEY,
    Row,
    Server,
    application,
    at_least,
    at_most,
    drive,
    info,
    knob,
    rss_kib,
    seed_case,
)
from bench.server import NOOP_PATH

CONNECTIONS = 32
COMMAND_PATH = "/cases/{case_id}/contact-attempts"


def seed(url: str, cases: int) -> list[list[Any]]:
    """Create `cases` cases in assessment; return [[case_id, version], …]."""
    app = application(url)
    try:
        return [[seed_case(app), 3] for _ in range(cases)]
    finally:
        app.close()


def load(server: Server, directory: Path, mode: str, cases: list[list[Any]]) -> dict[str, Any]:
    """Drive 32 connections of noop requests or contact-attempt commands."""
    spec = {
        "connections": CONNECTIONS,
        "warmup": knob("warmup"),
        "duration": knob("duration"),
        "mode": mode,
        "key": COORDINATOR_KEY,
        "body": ATTEMPT,
        "path": NOOP_PATH if mode == "noop" else COMMAND_PATH,
        "cases": cases,
    }
    return drive(server, spec, directory)


def warm(server: Server, directory: Path, cases: list[list[Any]]) -> None:
    """A few requests of each kind, so the idle RSS is of a server that has served both."""
    spec = {
        "connections": 1,
        "warmup": 0,
        "duration": 0.5,
        "key": COORDINATOR_KEY,
        "body": ATTEMPT,
        "cases": cases[:1],
    }
    drive(server, {**spec, "mode": "noop", "path": NOOP_PATH}, directory)
    drive(server, {**spec, "mode": "command", "path": COMMAND_PATH}, directory)


def rows(prefix: str, noop: dict[str, Any], command: dict[str, Any]) -> list[Row]:
    """The rows of one command-path measurement."""
    errors = sum(command["errors"].values()) + sum(noop["errors"].values())
    result = [
        at_least(f"{prefix}command path, commands/s", command["rps"], "req/s", noop["rps"], 0.5),
        info(f"{prefix}command path p50", command["p50_ms"], "ms"),
        info(f"{prefix}command path p99", command["p99_ms"], "ms"),
        info(f"{prefix}no-op endpoint p50 / p99", noop["p50_ms"], f"ms / {noop['p99_ms']:.1f}"),
    ]
    if errors:
        result.append(info(f"{prefix}non-2xx answers {command['errors']}", errors, "answers"))
    return result


def memory_rows(idle_kib: int, peak_kib: int) -> list[Row]:
    """Benchmark 7, under load: peak RSS against the idle server's RSS."""
    return [
        at_most("memory: peak RSS under load / idle", peak_kib / 1024, "MiB", idle_kib / 1024, 2.0)
    ]


def measure(server: Server, directory: Path, cases: list[list[Any]], prefix: str = "") -> list[Row]:
    """Noop floor, then the command; memory rows when `prefix` is empty."""
    warm(server, directory, cases[-1:])  # its own case: the load keeps the others' versions
    idle, _ = rss_kib(server.pid)
    noop = load(server, directory, "noop", cases[:-1])
    command = load(server, directory, "command", cases[:-1])
    _, peak = rss_kib(server.pid)
    result = rows(prefix, noop, command)
    if not prefix:
        result += memory_rows(idle, peak)
    return result
