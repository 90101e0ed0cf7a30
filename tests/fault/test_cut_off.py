"""Issue #12: a keyed request cut off by its client is never run with a partial body, nor bound
to its key; the retry with the same key runs it once (against a real `kasane serve`)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from service.persistence.tables import idempotency_keys
from tests.fault.support import CASE, CENTER, LiveServer


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A live server without a rate limit."""
    live = LiveServer(database_url, tmp_path, KASANE_RATE_LIMIT_PER_MINUTE="0")
    live.start()
    try:
        yield live
    finally:
        live.stop()


def _cut_off(server: LiveServer, key: str, body: bytes, sent: int) -> None:
    """Send the request's head and the first `sent` bytes of its body, then hang up."""
    head = (
        f"POST /cases HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {CENTER['X-API-Key']}\r\n"
        f"Idempotency-Key: {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head + body[:sent])
        time.sleep(0.2)  # the server has read what was sent
        sock.shutdown(socket.SHUT_RDWR)


def _cases(client: httpx.Client) -> int:
    total: int = client.get("/cases", headers=CENTER).json()["total"]
    return total


def _keys(database_url: str, key: str) -> list[object]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(idempotency_keys).where(idempotency_keys.c.key == key)))
    finally:
        engine.dispose()


def _retry(client: httpx.Client, key: str, body: bytes) -> httpx.Response:
    """Send the whole request, waiting out a running first attempt as told (409, Retry-After)."""
    headers = {**CENTER, "Idempotency-Key": key, "Content-Type": "application/json"}
    for _ in range(50):
        response = client.post("/cases", content=body, headers=headers)
        if response.status_code != 409:
            return response
        time.sleep(float(response.headers["retry-after"]) / 10)
    raise AssertionError("the key stayed in progress")


def test_a_request_cut_off_mid_body_is_not_run_and_its_retry_runs_once(
    server: LiveServer, database_url: str
) -> None:
    """Half a body, then a hang-up: nothing runs, the key stays free; the whole retry runs."""
    body = json.dumps(CASE, ensure_ascii=False).encode()
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        before = _cases(client)
        _cut_off(server, "cut-mid-body", body, len(body) // 2)
        _cut_off(server, "cut-mid-body", body, 0)
        time.sleep(0.3)
        assert _cases(client) == before
        assert _keys(database_url, "cut-mid-body") == []
        first = _retry(client, "cut-mid-body", body)
        assert first.status_code == 201 and "idempotent-replayed" not in first.headers
        again = _retry(client, "cut-mid-body", body)
        assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
        assert _cases(client) == before + 1


def test_a_request_cut_off_after_its_body_runs_once_with_its_retry(
    server: LiveServer, database_url: str
) -> None:
    """The whole body, then a hang-up before the answer: the command may have run, but the
    retry with the same key never runs it a second time, and answers its first answer."""
    body = json.dumps(CASE, ensure_ascii=False).encode()
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        before = _cases(client)
        _cut_off(server, "cut-after-body", body, len(body))
        first = _retry(client, "cut-after-body", body)
        assert first.status_code == 201
        again = _retry(client, "cut-after-body", body)
        assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
        assert _cases(client) == before + 1
        [row] = _keys(database_url, "cut-after-body")
        assert row.status_code == 201 and row.outcome is not None  # type: ignore[attr-defined]
