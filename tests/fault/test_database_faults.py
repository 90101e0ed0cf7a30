"""Issue #12: a database that is locked, full or down answers 503 with Retry-After, keyed or
not, within the lock timeout plus a margin; nothing is half-written; the service recovers."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url

from service.main import create_app
from service.persistence.migrate import upgrade
from service.persistence.tables import event_index
from service.settings import Settings
from tests.databases import is_sqlite
from tests.fault.support import CASE, CENTER, CITY, explanation, read_model_snapshot
from tests.pgcluster import PostgresCluster

BUSY_TIMEOUT = 0.5  # seconds: short, so that holding the lock three times as long is quick
MARGIN = 0.75  # seconds a loaded two-core machine may add to a request
DATABASE_CODES = {"database_unavailable", "database_busy", "statement_timeout", "storage_full"}


def _sqlite_only(database_url: str) -> None:
    if not is_sqlite(database_url):
        pytest.skip("SQLite's own locking and page limit: the PostgreSQL test stops the server")


def _problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert int(response.headers["Retry-After"]) >= 1


def _events(client: TestClient) -> int:
    with client.app.state.kasane.engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.scalar(select(func.count()).select_from(event_index)) or 0)


@pytest.fixture
def sqlite_client(database_url: str) -> Iterator[TestClient]:
    """A client of an app whose SQLite connections wait BUSY_TIMEOUT for another's lock."""
    _sqlite_only(database_url)
    settings = Settings(
        database_url=database_url,
        db_sqlite_busy_timeout_ms=int(BUSY_TIMEOUT * 1000),
        rate_limit_per_minute=0,
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.slow
def test_a_lock_held_three_busy_timeouts_answers_503_busy_within_the_timeout_then_succeeds(
    sqlite_client: TestClient, database_url: str
) -> None:
    """Another connection holds the write lock (BEGIN IMMEDIATE) for 3 × the busy timeout:
    every command, with an Idempotency-Key or without, answers `503 database_busy` with
    Retry-After within the timeout plus a margin (a failed commit group is not retried command
    by command, each waiting again); /ready says so too; nothing is stored; afterwards the same
    requests, keys included, succeed."""
    client = sqlite_client
    case_id = client.post("/cases", json=CASE, headers=CENTER).json()["case_id"]
    stored = _events(client)
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
    for n in range(6):
        headers = {**CENTER, **({"Idempotency-Key": f"lock-{n}"} if n % 2 else {})}
        if n < 2:
            requests.append(("/cases", CASE, headers))
        else:
            requests.append((f"/cases/{case_id}/explanations", explanation(f"n {n}"), headers))

    def send(request: tuple[str, dict[str, Any], dict[str, str]]) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = client.post(request[0], json=request[1], headers=request[2])
        return response, time.monotonic() - started

    path = make_url(database_url).database or ""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    locked_at = time.monotonic()
    release = threading.Timer(3 * BUSY_TIMEOUT, holder.execute, args=("ROLLBACK",))
    release.start()
    try:
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            answered = list(pool.map(send, requests))
        ready = client.get("/ready")
        assert time.monotonic() - locked_at < 3 * BUSY_TIMEOUT, "the lock ended too early"
    finally:
        release.join()
        holder.close()
    for response, took in answered:
        _problem(response, 503, "database_busy")
        assert took < BUSY_TIMEOUT + MARGIN, f"waited {took:.2f} s"
    _problem(ready, 503, "database_busy")
    assert client.get("/health").status_code == 200
    assert _events(client) == stored

    for path, body, headers in requests:  # the lock is gone: the same requests succeed
        response = client.post(path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
    assert client.get("/ready").json()["status"] == "ready"
    assert _events(client) == stored + len(requests)


@pytest.mark.slow
def test_a_full_disk_answers_storage_full_writes_nothing_and_recovers_when_space_returns(
    sqlite_client: TestClient,
) -> None:
    """SQLite's page limit stands in for a full disk: commands answer `503 storage_full` (not
    "busy"), keyed or not; no event, read-model row or key is half-written; as soon as space
    returns the same requests succeed and the read models equal a rebuild from the events."""
    client = sqlite_client
    app = client.app.state.kasane  # type: ignore[attr-defined]
    engine = app.engine
    limit: dict[str, int | None] = {"pages": None}

    @event.listens_for(engine, "checkout")
    def cap(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        pages = limit["pages"] or 1_073_741_823  # SQLite's default maximum
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}").fetchall()

    case_id = client.post("/cases", json=CASE, headers=CENTER).json()["case_id"]
    with engine.connect() as conn:
        limit["pages"] = int(conn.execute(text("PRAGMA page_count")).scalar_one())

    fill = [
        ("/cases", CASE, 201),  # new cases, then the smaller explanations fill what is left
        (f"/cases/{case_id}/explanations", explanation("filler"), 200),
    ]
    for path, body, status in fill:
        for _ in range(400):
            response = client.post(path, json=body, headers=CENTER)
            if response.status_code != status:
                break
        _problem(response, 503, "storage_full")

    before, stored = read_model_snapshot(app), _events(client)
    keyed = {**CENTER, "Idempotency-Key": "full-1"}
    attempts = [
        client.post("/cases", json=CASE, headers=CENTER),
        client.post(f"/cases/{case_id}/explanations", json=explanation("full"), headers=keyed),
    ]
    for response in attempts:
        _problem(response, 503, "storage_full")
    assert read_model_snapshot(app) == before and _events(client) == stored

    limit["pages"] = None  # space returns
    created = client.post("/cases", json=CASE, headers=CENTER)
    assert created.status_code == 201, created.text
    retried = client.post(f"/cases/{case_id}/explanations", json=explanation("full"), headers=keyed)
    assert retried.status_code == 200, retried.text
    assert _events(client) == stored + 2
    notes = client.get(f"/cases/{case_id}", headers=CITY).json()["explanations"]
    assert [e["note"] for e in notes].count("full") == 1  # stored once
    live = read_model_snapshot(app)
    app.rebuild_read_models()
    assert read_model_snapshot(app) == live


def test_database_errors_are_classified_by_cause() -> None:
    """The driver's code decides the class: full disk, lock, timeout, lost connection."""
    from eventsourcing.persistence import OperationalError as StoreOperationalError
    from psycopg import errors as pg
    from sqlalchemy.exc import OperationalError

    from service.api.database_errors import classify

    def wrapped(orig: BaseException) -> BaseException:
        error = OperationalError("INSERT …", {}, orig)
        try:
            raise StoreOperationalError(error) from error  # as the event store's recorder does
        except StoreOperationalError as store:
            return store

    full = sqlite3.connect(":memory:")
    full.execute("CREATE TABLE t (x)")
    full.execute("PRAGMA max_page_count = 1")
    with pytest.raises(sqlite3.OperationalError) as disk_full:
        full.execute("INSERT INTO t VALUES (randomblob(100000))")
    cases = {
        "storage_full": [wrapped(disk_full.value), wrapped(pg.DiskFull())],
        "database_busy": [wrapped(pg.LockNotAvailable()), wrapped(pg.SerializationFailure())],
        "statement_timeout": [wrapped(pg.QueryCanceled())],
        "database_unavailable": [wrapped(pg.AdminShutdown()), wrapped(ConnectionError())],
    }
    for code, errors in cases.items():
        for error in errors:
            failure = classify(error)
            assert failure is not None and failure.code == code, (code, error)
            assert failure.status == 503 and failure.retry_after >= 1
    assert classify(ValueError("not the database")) is None
    try:  # a bug while handling a database failure is a bug, not the database's failure
        try:
            raise wrapped(disk_full.value)
        except StoreOperationalError:
            raise KeyError("bug") from None
    except KeyError as bug:
        assert classify(bug) is None


@pytest.mark.slow
def test_postgresql_stopped_under_load_answers_503_everywhere_and_resumes_by_itself(
    postgres_server_url: str,
) -> None:
    """A PostgreSQL server of its own is stopped (immediate mode, as a crash) while clients
    send commands: every answer is 200 or a 503 problem with Retry-After, keyed or not, never
    500; /ready fails while /health answers; once the server is back the service serves again
    by itself (pooled dead connections are replaced), /ready first."""
    with PostgresCluster() as cluster:
        admin = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE kasane"))
        admin.dispose()
        url = make_url(cluster.url).set(database="kasane").render_as_string(hide_password=False)
        upgrade(url)
        settings = Settings(database_url=url, rate_limit_per_minute=0, db_connect_timeout_seconds=2)
        with TestClient(create_app(settings)) as client:
            # A case per writer: four writers on one case would also race for its versions.
            cases = [client.post("/cases", json=CASE, headers=CENTER).json() for _ in range(5)]
            case_id, *own = [c["case_id"] for c in cases]
            assert client.get("/ready").status_code == 200
            stop = threading.Event()
            answers: list[httpx.Response] = []

            def load(writer: int) -> None:
                n = 0
                while not stop.is_set():
                    n += 1
                    key = {"Idempotency-Key": f"load-{writer}-{n}"} if n % 2 else {}
                    answers.append(
                        client.post(
                            f"/cases/{own[writer]}/explanations",
                            json=explanation(f"{writer} {n}"),
                            headers={**CENTER, **key},
                        )
                    )

            with ThreadPoolExecutor(max_workers=4) as pool:
                writers = [pool.submit(load, w) for w in range(4)]
                time.sleep(0.5)
                cluster.halt()
                time.sleep(0.5)
                down = [
                    client.post(
                        f"/cases/{case_id}/explanations", json=explanation("down"), headers=h
                    )
                    for h in (CENTER, {**CENTER, "Idempotency-Key": "down-1"})
                ]
                ready_down, health_down = client.get("/ready"), client.get("/health")
                cluster.resume()
                deadline = time.monotonic() + 30
                while client.get("/ready").status_code != 200:
                    assert time.monotonic() < deadline, "the service did not become ready again"
                    time.sleep(0.2)
                time.sleep(0.5)  # the writers succeed again
                stop.set()
                for w in writers:
                    w.result()

            for response in down:
                _problem(response, 503, "database_unavailable")
            _problem(ready_down, 503, "database_unavailable")
            assert health_down.status_code == 200
            codes = {r.status_code for r in answers}
            assert codes <= {200, 503}, [r.text for r in answers if r.status_code not in (200, 503)]
            assert 503 in codes and answers[-1].status_code == 200
            for response in answers:
                if response.status_code == 503:
                    assert response.json()["code"] in DATABASE_CODES, response.text
                    assert int(response.headers["Retry-After"]) >= 1
            for headers in (CENTER, {**CENTER, "Idempotency-Key": "after-1"}):
                after = client.post(
                    f"/cases/{case_id}/explanations", json=explanation("after"), headers=headers
                )
                assert after.status_code == 200, after.text
