"""Shared pieces of the benchmarks: scale knobs, result rows, databases, seeding, RSS."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from service.domain.values import Actor, Role

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

# demo-city's parties: the development API keys name the same agencies (service/settings.py)
MUNICIPALITY = "demo-city"
COORDINATOR = Actor(MUNICIPALITY, "demo-coordinator", Role.coordinator)
COORDINATOR_KEY = "dev-coordinator"

PERSON = {"name": "山田ハナ", "name_kana": "やまだはな", "sex": "female"}
HOUSEHOLD = [{"name": "山田タロウ", "age": 53, "relationship": "長男"}]
REFERRAL = {
    "route": "referral",
    "referrer_agency_id": "demo-general-support-center",
    "referrer_kind": "community_general_support_center",
    "received_on": "2026-04-01",
    "reason": "未払いの請求書、同居の長男が20年ひきこもり訪問を拒否（8050）",
}
CONSENT = {
    "person_id": "person",
    "application_for_use": True,
    "agency_ids": ["demo-general-support-center"],
    "given_by": "person",
    "given_on": "2026-04-03",
    "method": "form",
}
ATTEMPT = {"kind": "home_visit", "on": "2026-05-01", "reached": False, "note": "不在。手紙を投函"}


# --- scale ----------------------------------------------------------------------------------

SCALES: dict[str, dict[str, float]] = {
    # seconds of load per measured run, events of the big stores, replay sizes
    "small": {
        "duration": 3,
        "warmup": 1,
        "append_commands": 300,
        "replay_sizes": 1,  # 1,000 and 10,000 events are cheap; kept in both scales
        "rebuild_events": 100_000,
        "rebuild_small_events": 10_000,
        "growth_events": 200_000,
        "growth_small_events": 10_000,
    },
    "full": {
        "duration": 10,
        "warmup": 2,
        "append_commands": 1_000,
        "replay_sizes": 1,
        "rebuild_events": 1_000_000,
        "rebuild_small_events": 100_000,
        "growth_events": 5_000_000,
        "growth_small_events": 10_000,
    },
}


def scale_name() -> str:
    """Return the scale chosen by BENCH_SCALE (full by default)."""
    name = os.environ.get("BENCH_SCALE", "full")
    if name not in SCALES:
        raise SystemExit(f"BENCH_SCALE must be one of {', '.join(SCALES)}")
    return name


def knob(name: str) -> int:
    """Return a scale knob; BENCH_<NAME> in the environment overrides it."""
    override = os.environ.get(f"BENCH_{name.upper()}")
    return int(float(override)) if override else int(SCALES[scale_name()][name])


# --- results --------------------------------------------------------------------------------


@dataclass
class Row:
    """One figure: its value, the floor it is compared with, the ratio and the target."""

    name: str
    value: float
    unit: str
    floor: float | None
    ratio: float | None
    target: str
    met: bool | None

    def as_dict(self) -> dict[str, Any]:
        """Return the row as written to the JSON file."""
        data = asdict(self)
        for key in ("value", "floor", "ratio"):
            if isinstance(data[key], float):
                data[key] = round(data[key], 4 if key == "ratio" else 3)
        return data


def at_least(name: str, value: float, unit: str, floor: float, target: float) -> Row:
    """A row whose ratio value/floor must be at least `target`."""
    ratio = value / floor if floor else None
    met = ratio is not None and ratio >= target
    return Row(name, value, unit, floor, ratio, f">= {target}", met)


def at_most(name: str, value: float, unit: str, floor: float, target: float) -> Row:
    """A row whose ratio value/floor must be at most `target`."""
    ratio = value / floor if floor else None
    met = ratio is not None and ratio <= target
    return Row(name, value, unit, floor, ratio, f"<= {target}", met)


def info(name: str, value: float, unit: str) -> Row:
    """A row reported for context, without a target."""
    return Row(name, value, unit, None, None, "-", None)


# --- timing ---------------------------------------------------------------------------------


def best_of(repeat: int, fn: Callable[[], Any]) -> float:
    """Return the median seconds of `repeat` calls of `fn`."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def percentile(values: list[float], p: float) -> float:
    """Return the p-th percentile (0..100) of `values` by nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]


# --- databases ------------------------------------------------------------------------------


@contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    """A temporary directory for one benchmark's databases (BENCH_TMP chooses where)."""
    with tempfile.TemporaryDirectory(prefix=prefix, dir=os.environ.get("BENCH_TMP")) as d:
        yield Path(d)


def migrated_sqlite(directory: Path, name: str = "kasane.db") -> str:
    """Return the URL of a new SQLite database migrated to head."""
    from service.persistence.migrate import upgrade

    url = f"sqlite:///{directory / name}"
    upgrade(url)
    return url


def application(url: str) -> Any:
    """Return a Kasane application on `url` with the service's engine options."""
    from service.application.kasane import Kasane
    from service.persistence.database import engine_options
    from service.settings import Settings

    return Kasane(url, None, engine_options(Settings(database_url=url)))


def seed_case(app: Any) -> str:
    """Refer a case, record consent and start the assessment; return its id (4 events)."""
    case_id = app.refer_case(COORDINATOR, dict(REFERRAL), dict(PERSON), list(HOUSEHOLD)).case_id
    app.give_consent(COORDINATOR, case_id, None, dict(CONSENT))
    app.start_assessment(COORDINATOR, case_id, None)
    return str(case_id)


# --- memory ---------------------------------------------------------------------------------


def rss_kib(pid: int) -> tuple[int, int]:
    """Return (VmRSS, VmHWM) of a process in KiB: its resident set now and at its peak."""
    now = peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            now = int(line.split()[1])
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1])
    return now, peak


# --- the service as a process -----------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running uvicorn process of bench.server."""

    port: int
    pid: int


@contextmanager
def serve(url: str, log: Path, **env: str) -> Iterator[Server]:
    """Run `uvicorn bench.server:create` on `url` (migrated already) until the block ends."""
    import subprocess
    import sys
    import urllib.request

    port = free_port()
    environment = {
        **os.environ,
        "KASANE_DATABASE_URL": url,
        "KASANE_RATE_LIMIT_PER_MINUTE": "0",  # the load comes from one credential
        **env,
    }
    command = [sys.executable, "-m", "uvicorn", "bench.server:create", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    command += ["--log-level", "warning"]
    with open(log, "ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start; see {log}") from None
                time.sleep(0.2)
        yield Server(port, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def drive(server: Server, spec: dict[str, Any], directory: Path) -> dict[str, Any]:
    """Run bench.load against the server in its own process; return its result."""
    import json
    import subprocess
    import sys

    spec_file = directory / "load.json"
    spec_file.write_text(json.dumps({"host": "127.0.0.1", "port": server.port, **spec}))
    out = subprocess.run(
        [sys.executable, "-m", "bench.load", str(spec_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result
