"""Issue #7, fault test 1: sixteen clients race the same command on one case over real HTTP."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import UUID

import httpx
from sqlalchemy import create_engine, select

from service.application.kasane import Kasane
from service.persistence.tables import event_index
from tests.fault.support import CASE, CENTER, CITY, LiveServer, explanation

CLIENTS = 16
ROUNDS = 3
PROBLEM = "application/problem+json"


def _send(
    gate: threading.Barrier, base_url: str, case_id: str, n: int, version: int
) -> httpx.Response:
    """One client: its own connection; half name the version in If-Match, half in the body."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        note = f"client {n} at version {version}"
        gate.wait()  # every client sends at once
        if n % 2:
            return client.post(
                f"/cases/{case_id}/explanations",
                json=explanation(note),
                headers={**CENTER, "If-Match": f'"{version}"'},
            )
        return client.post(
            f"/cases/{case_id}/explanations", json=explanation(note, version), headers=CENTER
        )


def test_sixteen_clients_racing_one_expected_version_leave_one_winner_and_no_gap(
    database_url: str, tmp_path: Path
) -> None:
    """Exactly one of 16 identical commands wins each round; the 15 others get 409 (body
    version) or 412 (If-Match) problem documents; the stream and the event index end with
    consecutive versions, each once, and the read model agrees (SQLite or PostgreSQL)."""
    server = LiveServer(database_url, tmp_path)
    server.start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            created = client.post("/cases", json=CASE, headers=CENTER)
            assert created.status_code == 201, created.text
            case_id, version = created.json()["case_id"], created.json()["version"]
            winners: list[str] = []
            with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
                for _ in range(ROUNDS):
                    gate = threading.Barrier(CLIENTS)
                    sent = [
                        pool.submit(_send, gate, server.base_url, case_id, n, version)
                        for n in range(CLIENTS)
                    ]
                    responses = [f.result() for f in sent]
                    won = [(n, r) for n, r in enumerate(responses) if r.status_code == 200]
                    assert len(won) == 1, [r.status_code for r in responses]
                    winner, response = won[0]
                    assert response.json()["version"] == version + 1
                    for n, lost in enumerate(responses):
                        if n == winner:
                            continue
                        assert lost.status_code == (412 if n % 2 else 409), lost.text
                        assert lost.headers["content-type"] == PROBLEM
                        assert lost.json()["code"] == "version_conflict"
                    winners.append(f"client {winner} at version {version}")
                    version += 1
            events = client.get(f"/cases/{case_id}/events", headers=CITY).json()
            detail = client.get(f"/cases/{case_id}", headers=CITY).json()
    finally:
        server.stop()

    assert [e["version"] for e in events] == list(range(1, ROUNDS + 2))
    assert detail["version"] == ROUNDS + 1
    assert [e["note"] for e in detail["explanations"]] == winners
    # The store itself: one stored event per version, and one index row per stored event.
    app = Kasane(database_url)
    stored = list(app.events.get(UUID(case_id)))
    assert [e.originator_version for e in stored] == list(range(1, ROUNDS + 2))
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            indexed = conn.execute(
                select(event_index.c.originator_version, event_index.c.notification_id)
                .where(event_index.c.originator_id == case_id)
                .order_by(event_index.c.notification_id)
            ).all()
    finally:
        engine.dispose()
    assert [v for v, _ in indexed] == list(range(1, ROUNDS + 2))
    assert len({n for _, n in indexed}) == len(indexed)
