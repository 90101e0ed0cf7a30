"""Issue #7, fault test 2: the server is SIGKILLed under load again and again; nothing a client
was told is saved may be lost, nothing may be saved twice, and the store stays verifiable."""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from sqlalchemy import column, create_engine, select, table

from service.application.kasane import Kasane
from service.persistence.tables import event_index, idempotency_keys
from tests.fault.support import (
    CASE,
    CENTER,
    KASANE,
    LiveServer,
    explanation,
    read_model_snapshot,
)

SEED = 20261128
ACKNOWLEDGED = 2_000  # commands the clients must see acknowledged
KILLS = 6
CLIENTS = 4
CASES_PER_CLIENT = 10
RETRIES = 600  # a keyed command's tries (409 while a dead process's lease runs: 2 s here)


class AckLog:
    """The client's own record of acknowledged commands, fsynced before the next is sent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.count = 0
        self.file = path.open("a", encoding="utf-8")

    def append(self, case_id: str, version: int, marker: str) -> None:
        """Record one acknowledged command durably."""
        with self.lock:
            self.file.write(f"{case_id} {version} {marker}\n")
            self.file.flush()
            os.fsync(self.file.fileno())
            self.count += 1

    def close(self) -> None:
        """Close the log."""
        self.file.close()

    def read(self) -> list[tuple[str, int, str]]:
        """Return every acknowledged (case id, version, marker)."""
        rows = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            case_id, version, marker = line.split(" ")
            rows.append((case_id, int(version), marker))
        return rows


def _drive(
    number: int,
    server: LiveServer,
    case_ids: list[str],
    log: AckLog,
    up: threading.Event,
    done: threading.Event,
    lost: Counter[str],
) -> None:
    """One client: explanations on its own cases, each with a unique marker in its note.

    Every other command carries an Idempotency-Key (its marker) and is retried with the same
    key until it is answered, through the kills; the others are given up when cut off.
    """
    sent = 0
    client = httpx.Client(base_url=server.base_url, timeout=30)
    try:
        while not done.is_set():
            case_id = case_ids[sent % len(case_ids)]
            marker = f"c{number}-{sent}"
            keyed = sent % 2 == 0
            headers = {**CENTER, "Idempotency-Key": marker} if keyed else CENTER
            sent += 1
            for attempt in range(RETRIES):
                try:
                    response = client.post(
                        f"/cases/{case_id}/explanations", json=explanation(marker), headers=headers
                    )
                except httpx.TransportError:
                    # Killed while the command was in flight: it may or may not be saved, but
                    # it was never acknowledged. Wait for the restart.
                    with log.lock:
                        lost["keyed retried" if keyed else "in flight"] += 1
                    client.close()
                    up.wait(timeout=60)
                    client = httpx.Client(base_url=server.base_url, timeout=30)
                    if keyed:
                        continue  # the same key: stored once, or run now
                    break  # a new command gets a new marker
                if keyed and response.status_code == 409:
                    # The killed process's lease on the key: runs out within seconds.
                    problem = response.json()["code"]
                    assert problem == "idempotency_request_in_progress", response.text
                    with log.lock:
                        lost["lease waited"] += 1
                    time.sleep(0.1 * int(response.headers["retry-after"]))
                    continue
                if response.status_code == 200:
                    log.append(case_id, response.json()["version"], marker)
                    if keyed and attempt:
                        with log.lock:
                            lost["keyed completed after retry"] += 1
                    break
                assert response.status_code == 503, response.text  # a busy database
                with log.lock:
                    lost["busy"] += 1
                if not keyed:
                    break
            else:
                raise AssertionError(f"{marker} never answered after {RETRIES} tries")
    finally:
        client.close()


@pytest.mark.slow
def test_acknowledged_commands_survive_repeated_sigkill_of_the_server(
    database_url: str, tmp_path: Path
) -> None:
    """≥ 2,000 acknowledged commands over ≥ 5 SIGKILLs at seeded random moments: every
    acknowledged command is stored once at its acknowledged version, no event is duplicated,
    `kasane verify` finds the hash chain intact, and the read models equal a rebuild.

    Issue #12: half the commands carry an Idempotency-Key and are retried with it after a
    connection error; every one of them completes, stored once with the answer it got, and no
    key is left in progress."""
    rng = random.Random(SEED)
    server = LiveServer(
        database_url,
        tmp_path,
        KASANE_RATE_LIMIT_PER_MINUTE="0",
        KASANE_IDEMPOTENCY_LEASE_SECONDS="2",
    )
    server.start()
    log = AckLog(tmp_path / "acknowledged.log")
    with httpx.Client(base_url=server.base_url, timeout=30) as setup:
        case_ids = [
            setup.post("/cases", json=CASE, headers=CENTER).json()["case_id"]
            for _ in range(CLIENTS * CASES_PER_CLIENT)
        ]
    # The kills come when the acknowledged count passes these marks, plus a random delay, so
    # they land at random points of the requests in flight.
    marks = sorted(rng.sample(range(100, ACKNOWLEDGED - 100), KILLS))
    up, done = threading.Event(), threading.Event()
    up.set()
    lost: Counter[str] = Counter()
    clients = [
        threading.Thread(
            target=_drive,
            args=(n, server, case_ids[n::CLIENTS], log, up, done, lost),
            name=f"client-{n}",
        )
        for n in range(CLIENTS)
    ]
    kills = 0
    try:
        for thread in clients:
            thread.start()
        deadline = time.monotonic() + 540  # a safety net against a hang, not a speed test
        while log.count < ACKNOWLEDGED:
            assert time.monotonic() < deadline, f"only {log.count} acknowledged in time"
            assert all(t.is_alive() for t in clients), "a client failed (see its traceback)"
            if marks and log.count >= marks[0]:
                marks.pop(0)
                time.sleep(rng.uniform(0, 0.02))
                up.clear()
                server.kill()
                kills += 1
                server.start()
                up.set()
            time.sleep(0.002)
        done.set()
        for thread in clients:
            thread.join(timeout=60)
    finally:
        done.set()
        up.set()
        if server.process is not None:
            server.kill()
        log.close()
    assert kills >= 5 and server.starts == kills + 1
    acknowledged = log.read()
    assert len(acknowledged) >= ACKNOWLEDGED

    # Every acknowledged command is stored, once, at the version the client was told.
    app = Kasane(database_url)
    stored: dict[str, tuple[str, int]] = {}
    total_events = 0
    for case_id in case_ids:
        events = list(app.events.get(UUID(case_id)))
        total_events += len(events)
        assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
        for e in events[1:]:
            marker = e.explanation["note"]  # type: ignore[attr-defined]
            assert marker not in stored, f"{marker} stored twice"
            stored[marker] = (case_id, e.originator_version)
    for case_id, version, marker in acknowledged:
        assert stored.get(marker) == (case_id, version), f"acknowledged {marker} is lost"
    # Commands cut off in flight may be stored or not; nothing else is stored.
    assert len(stored) - len(acknowledged) <= lost["in flight"]

    # Keyed commands: half of them, each acknowledged (the retried ones too, stored once at the
    # version first answered, as checked above); every key answered, none left in progress.
    keyed_markers = {m for _, _, m in acknowledged if int(m.split("-")[1]) % 2 == 0}
    assert len(keyed_markers) >= len(acknowledged) // 2 - CLIENTS
    assert lost["keyed retried"] >= 1 and lost["keyed completed after retry"] >= 1, lost
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(idempotency_keys)).all()
    finally:
        engine.dispose()
    assert {r.key for r in rows} == keyed_markers
    stuck = [r.key for r in rows if r.status_code is None]
    assert stuck == [], f"{len(stuck)} key(s) stuck in progress"
    assert all(r.status_code == 200 and r.outcome is not None for r in rows)

    # One index row per stored event, no more, no fewer; the hash chains verify.
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            events_table = table(
                "kasane_events", column("originator_id"), column("originator_version")
            )
            in_store = conn.execute(
                select(events_table.c.originator_id, events_table.c.originator_version)
            ).all()
            indexed = conn.execute(
                select(event_index.c.originator_id, event_index.c.originator_version)
            ).all()
    finally:
        engine.dispose()
    assert len(in_store) == total_events
    assert sorted((str(i), v) for i, v in indexed) == sorted(
        (str(UUID(bytes=i) if isinstance(i, bytes) else UUID(str(i))), v) for i, v in in_store
    )
    verified = subprocess.run(
        [str(KASANE), "verify"],
        env={**os.environ, "KASANE_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{total_events} event(s): ok" in verified.stdout

    # The read models kept on the write path equal the ones rebuilt from the events.
    live = read_model_snapshot(app)
    app.rebuild_read_models()
    assert read_model_snapshot(app) == live
