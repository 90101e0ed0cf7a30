"""Two `kasane serve` processes on one PostgreSQL database: no lost, doubled or reordered event."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from service.application.kasane import Kasane
from service.persistence.tables import event_index

KASANE = Path(sys.executable).parent / "kasane"
ROUNDS = 20
CASES_PER_WRITER = 6
CENTER = {"X-API-Key": "dev-center"}
CITY = {"X-API-Key": "dev-municipality"}
CASE = {
    "referral": {
        "route": "referral",
        "referrer_agency_id": "demo-general-support-center",
        "referrer_kind": "community_general_support_center",
        "received_on": "2026-04-01",
        "reason": "unpaid bills",
        "concerns": ["介護"],
    },
    "person": {"name": "山田ハナ", "name_kana": "やまだ はな", "birth_date": "1944-05-10"},
    "household": [],
}
Json = dict[str, Any]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _instance(database_url: str, workdir: Path, name: str) -> Iterator[httpx.Client]:
    """Run `kasane serve` on a free loopback port; yield a client of it."""
    port = _free_port()
    log = (workdir / f"{name}.log").open("w")
    env = {**os.environ, "KASANE_DATABASE_URL": database_url, "KASANE_DB_POOL_SIZE": "4"}
    server = subprocess.Popen(
        [str(KASANE), "serve", "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, (workdir / f"{name}.log").read_text()
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{name} did not start"
            time.sleep(0.1)
        yield client
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=10)
        log.close()


def _explain(client: httpx.Client, case_id: str, note: str, expected: int | None) -> int:
    body: Json = {"kind": "explanation", "on": "2026-04-02", "note": note}
    if expected is not None:
        body["expected_version"] = expected
    response = client.post(f"/cases/{case_id}/explanations", json=body, headers=CENTER)
    assert response.status_code in (200, 409), response.text
    return response.status_code


def _race(
    gate: threading.Barrier, client: httpx.Client, case_id: str, note: str, expected: int
) -> int:
    gate.wait()  # both requests leave together
    return _explain(client, case_id, note, expected)


def _read_feed(clients: list[httpx.Client], after: int, limit: int = 7) -> tuple[list[Json], int]:
    """Read every page after `after`, alternating instances; return the items and the end."""
    items: list[Json] = []
    page = 0
    while True:
        client = clients[page % len(clients)]
        body = client.get("/events", params={"after": after, "limit": limit}, headers=CITY).json()
        items += body["items"]
        page += 1
        if not body["items"]:
            return items, after
        after = body["next_after"]


def _views(client: httpx.Client) -> tuple[list[Json], dict[str, Json]]:
    """Return the case list and every case's detail as one instance serves them."""
    listed = client.get("/cases", params={"limit": 200}, headers=CITY).json()
    cases = sorted(listed["items"], key=lambda c: c["case_id"])
    details = {
        c["case_id"]: client.get(f"/cases/{c['case_id']}", headers=CITY).json() for c in cases
    }
    return cases, details


def test_two_instances_share_one_postgresql_database(database_url: str, tmp_path: Path) -> None:
    """Races on one case, parallel writers and a feed reader across both instances."""
    if not database_url.startswith("postgresql"):
        pytest.skip(
            "two instances share a database only on PostgreSQL: set KASANE_TEST_POSTGRES "
            "(make test-postgres); SQLite is one file for one instance"
        )
    started = time.monotonic()
    with ExitStack() as stack:
        a = stack.enter_context(_instance(database_url, tmp_path, "a"))
        b = stack.enter_context(_instance(database_url, tmp_path, "b"))
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=4))

        # (a) The same command with the same expected version to both: one winner per round.
        case = a.post("/cases", json=CASE, headers=CENTER).json()
        raced, version = case["case_id"], case["version"]
        winners: list[str] = []
        for n in range(ROUNDS):
            gate = threading.Barrier(2)
            sent = [
                pool.submit(_race, gate, client, raced, f"round {n} via {name}", version)
                for client, name in ((a, "a"), (b, "b"))
            ]
            statuses = [f.result() for f in sent]
            assert sorted(statuses) == [200, 409], f"round {n}: {statuses}"
            winners.append(f"round {n} via {'a' if statuses[0] == 200 else 'b'}")
            version += 1
        events = b.get(f"/cases/{raced}/events", headers=CITY).json()
        assert [e["version"] for e in events] == list(range(1, ROUNDS + 2))

        # (b) Both instances write other cases while a reader tails the feed through both.
        tailed: list[Json] = []
        done = threading.Event()

        def write(client: httpx.Client) -> list[str]:
            ids = []
            for n in range(CASES_PER_WRITER):
                case_id = client.post("/cases", json=CASE, headers=CENTER).json()["case_id"]
                ids.append(case_id)
                assert _explain(client, case_id, f"note {n}", None) == 200
            return ids

        def tail() -> None:
            after = 0
            while not done.is_set():
                items, after = _read_feed([a, b], after)
                tailed.extend(items)
                time.sleep(0.02)
            items, after = _read_feed([b, a], after)
            tailed.extend(items)

        reader = pool.submit(tail)
        writers = [pool.submit(write, a), pool.submit(write, b)]
        written = [case_id for w in writers for case_id in w.result()]
        done.set()
        reader.result()

        # The tailing reader missed nothing and saw nothing twice: what a reader from zero sees,
        # which is exactly the municipality's rows of the event index, in commit order.
        full, _ = _read_feed([a, b], 0, limit=50)
        engine = create_engine(database_url)
        with engine.connect() as conn:
            indexed = list(
                conn.scalars(
                    select(event_index.c.notification_id)
                    .where(event_index.c.municipality_id == "demo-city")
                    .order_by(event_index.c.notification_id)
                )
            )
        engine.dispose()
        positions = [int(item["sequence"]) for item in full]
        assert positions == indexed
        assert len(indexed) == 1 + ROUNDS + 2 * CASES_PER_WRITER * 2
        assert [int(item["sequence"]) for item in tailed] == positions
        assert len({item["id"] for item in full}) == len(full)

        # (c) The read models hold every event once: versions match the event counts, the notes
        # of the winners appear once each, and an online rebuild from zero changes nothing.
        before = _views(a)
        assert _views(b) == before
        cases, details = before
        assert sorted(c["case_id"] for c in cases) == sorted([raced, *written])
        for summary in cases:
            count = len(a.get(f"/cases/{summary['case_id']}/events", headers=CITY).json())
            assert summary["version"] == details[summary["case_id"]]["version"] == count
        notes = [e["note"] for e in details[raced]["explanations"]]
        assert notes == winners
        Kasane(database_url).rebuild_read_models()
        assert _views(b) == before
    assert time.monotonic() - started < 60


def test_two_apps_without_expected_version_all_succeed_with_contiguous_versions(
    settings: Any,
) -> None:
    """Two app instances on one database (SQLite or PostgreSQL) write one case concurrently.
    Commands without an expected version are run again by the server on the fresh version, so
    every one succeeds and the versions are contiguous; with an expected version the loser of
    a race still gets 409."""
    from fastapi.testclient import TestClient

    from service.main import create_app

    a, b = TestClient(create_app(settings)), TestClient(create_app(settings))
    created = a.post("/cases", json=CASE, headers=CENTER)
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    per_writer = 6

    def write(client: TestClient, name: str) -> list[int]:
        statuses = []
        for n in range(per_writer):
            body = {"kind": "explanation", "on": "2026-04-02", "note": f"{name} {n}"}
            response = client.post(f"/cases/{case_id}/explanations", json=body, headers=CENTER)
            statuses.append(response.status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=2) as pool:
        sent = [pool.submit(write, client, name) for client, name in ((a, "a"), (b, "b"))]
        statuses = [s for f in sent for s in f.result()]
    assert statuses == [200] * 2 * per_writer
    events = b.get(f"/cases/{case_id}/events", headers=CITY).json()
    assert [e["version"] for e in events] == list(range(1, 2 * per_writer + 2))
    notes = [e["note"] for e in a.get(f"/cases/{case_id}", headers=CITY).json()["explanations"]]
    assert sorted(notes) == sorted(f"{w} {n}" for w in "ab" for n in range(per_writer))

    version = len(events)
    gate = threading.Barrier(2)

    def race(client: TestClient, name: str) -> int:
        body = {
            "kind": "explanation",
            "on": "2026-04-02",
            "note": name,
            "expected_version": version,
        }
        gate.wait()
        return client.post(f"/cases/{case_id}/explanations", json=body, headers=CENTER).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        raced = sorted(pool.map(race, (a, b), ("race a", "race b")))
    assert raced == [200, 409]
    a.close()
    b.close()
