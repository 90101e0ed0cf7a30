"""Idempotency-Key on commands: a retry answers the first response and writes nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from service.api.idempotency import purge_expired
from service.main import create_app
from service.persistence.tables import idempotency_keys
from service.settings import Settings
from tests.e2e.conftest import OTHER_COORDINATOR
from tests.e2e.support import (
    CENTER,
    COORDINATOR,
    SATO,
    SUZUKI,
    as_,
    case,
    events,
    ok,
    post,
    problem,
    refer,
)

Json = dict[str, Any]
REPLAYED = "idempotent-replayed"


def keyed(key: str) -> dict[str, str]:
    """Return the Idempotency-Key header."""
    return {"Idempotency-Key": key}


def case_count(client: TestClient) -> int:
    """Return how many cases demo-city has."""
    total: int = ok(client.get("/cases", headers=as_(COORDINATOR)))["total"]
    return total


def stored_keys(engine: Engine) -> int:
    """Return how many idempotency keys are stored."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(idempotency_keys)).scalar_one())


def explain(client: TestClient, case_id: str, key: str, note: str = "制度の説明") -> Response:
    """Record an explanation of the service with an Idempotency-Key."""
    body = {"kind": "explanation", "on": "2026-04-02", "note": note}
    return post(client, COORDINATOR, f"/cases/{case_id}/explanations", body, **keyed(key))


def test_a_retry_answers_the_first_response_and_writes_nothing(client: TestClient) -> None:
    """The same key and request answer the same status, body, ETag and Location; no second
    case is opened, and a retried command adds no event to the case."""
    first = post(client, COORDINATOR, "/cases", SUZUKI, **keyed("open-suzuki-1"))
    again = post(client, COORDINATOR, "/cases", SUZUKI, **keyed("open-suzuki-1"))
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    for header in ("etag", "location", "content-type"):
        assert again.headers[header] == first.headers[header]
    assert REPLAYED not in first.headers and again.headers[REPLAYED] == "true"
    assert case_count(client) == 1

    case_id = first.json()["case_id"]
    recorded = ok(explain(client, case_id, "explain-1"))
    version, history = case(client, case_id)["version"], events(client, case_id)
    retried = explain(client, case_id, "explain-1")
    assert retried.status_code == 200 and retried.json() == recorded
    assert retried.headers["etag"] == f'"{recorded["version"]}"'
    assert case(client, case_id)["version"] == version == recorded["version"]
    assert events(client, case_id) == history


def test_without_the_header_every_request_runs(client: TestClient, engine: Engine) -> None:
    """Requests without the header behave as before: each one is a new command."""
    refer(client, SUZUKI)
    refer(client, SUZUKI)
    assert case_count(client) == 2
    assert stored_keys(engine) == 0


def test_the_same_key_for_another_request_is_refused(client: TestClient) -> None:
    """Another body or another path under a used key answers 422 idempotency_key_reused and
    writes nothing."""
    case_id = ok(post(client, COORDINATOR, "/cases", SUZUKI, **keyed("k-1")), 201)["case_id"]
    problem(
        post(client, COORDINATOR, "/cases", SATO, **keyed("k-1")), 422, "idempotency_key_reused"
    )
    ok(explain(client, case_id, "k-2", "制度の説明"))
    problem(explain(client, case_id, "k-2", "同行"), 422, "idempotency_key_reused")
    problem(explain(client, case_id, "k-1"), 422, "idempotency_key_reused")
    assert case_count(client) == 1
    assert case(client, case_id)["version"] == 2


def test_keys_belong_to_a_municipality_and_agency(
    client: TestClient, other_town_client: TestClient
) -> None:
    """Another municipality, or another agency of the same one, may use the same key for its
    own request: each runs once."""
    mine = ok(post(client, COORDINATOR, "/cases", SUZUKI, **keyed("shared")), 201)
    other_town = post(other_town_client, OTHER_COORDINATOR, "/cases", SUZUKI, **keyed("shared"))
    center = post(client, CENTER, "/cases", SUZUKI, **keyed("shared"))
    assert ok(other_town, 201)["case_id"] != mine["case_id"]
    assert ok(center, 201)["case_id"] != mine["case_id"]
    assert REPLAYED not in other_town.headers and REPLAYED not in center.headers
    assert case_count(client) == 2
    again = post(other_town_client, OTHER_COORDINATOR, "/cases", SUZUKI, **keyed("shared"))
    assert again.json()["case_id"] == other_town.json()["case_id"]


def test_a_key_expires_after_the_configured_time(client: TestClient, engine: Engine) -> None:
    """A key is kept idempotency_ttl_hours (24 by default); once expired it may be used again,
    and the request runs as new."""
    first = ok(post(client, COORDINATOR, "/cases", SUZUKI, **keyed("nightly-import")), 201)
    with engine.begin() as conn:
        row = conn.execute(select(idempotency_keys)).one()
        created, expires = (datetime.fromisoformat(v) for v in (row.created_at, row.expires_at))
        assert expires - created == timedelta(hours=24)
        past = (created - timedelta(seconds=1)).isoformat()
        conn.execute(update(idempotency_keys).values(expires_at=past))

    reused = post(client, COORDINATOR, "/cases", SATO, **keyed("nightly-import"))
    assert ok(reused, 201)["case_id"] != first["case_id"]
    assert REPLAYED not in reused.headers
    assert case_count(client) == 2
    replay = post(client, COORDINATOR, "/cases", SATO, **keyed("nightly-import"))
    assert replay.json() == reused.json() and replay.headers[REPLAYED] == "true"
    assert purge_expired(engine, datetime.now(UTC)) == 0
    assert purge_expired(engine, datetime.now(UTC) + timedelta(hours=25)) == 1
    assert stored_keys(engine) == 0


def test_a_malformed_key_is_refused(client: TestClient, engine: Engine) -> None:
    """1 to 255 visible ASCII characters, one header: anything else answers 400
    invalid_idempotency_key and writes nothing; without a credential it is 401 as ever."""
    for bad in ("", "a" * 256, "with space", "tab\tkey", "ключ".encode()):
        response = client.post(
            "/cases", json=SUZUKI, headers={**as_(COORDINATOR), "Idempotency-Key": bad}
        )
        problem(response, 400, "invalid_idempotency_key")
    twice = client.post(
        "/cases",
        json=SUZUKI,
        headers=[("X-API-Key", COORDINATOR), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")],
    )
    problem(twice, 400, "invalid_idempotency_key")
    problem(client.post("/cases", json=SUZUKI, headers=keyed("ok")), 401, "unauthenticated")
    assert case_count(client) == 0
    assert stored_keys(engine) == 0
    ok(post(client, COORDINATOR, "/cases", SUZUKI, **keyed("~" * 255)), 201)


def test_a_refusal_is_answered_the_same_on_retry(client: TestClient) -> None:
    """A refused command wrote nothing; its retry answers the same refusal (the key names one
    request: a corrected request takes a new key)."""
    case_id = refer(client, SUZUKI)["case_id"]
    path = f"/cases/{case_id}/assessment-start"
    first = post(client, COORDINATOR, path, {}, **keyed("start"))
    problem(first, 409, "consent_required")
    again = post(client, COORDINATOR, path, {}, **keyed("start"))
    assert again.status_code == 409 and again.content == first.content
    assert again.headers[REPLAYED] == "true"


def test_a_server_error_is_not_kept(settings: Settings) -> None:
    """A 5xx is never stored: the retry under the same key runs and may succeed."""
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    kasane = client.app.state.kasane  # type: ignore[attr-defined]
    refer_case = kasane.refer_case
    calls = 0

    def failing_once(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the database went away")
        return refer_case(*args, **kwargs)

    kasane.refer_case = failing_once
    problem(post(client, COORDINATOR, "/cases", SUZUKI, **keyed("retry-me")), 500, "internal_error")
    retried = post(client, COORDINATOR, "/cases", SUZUKI, **keyed("retry-me"))
    assert retried.status_code == 201 and REPLAYED not in retried.headers
    assert calls == 2
    assert case_count(client) == 1


def test_concurrent_duplicates_write_once(make_client: Callable[[], TestClient]) -> None:
    """Six copies of one request with one key, sent at once from six app instances: one runs;
    each other answers 409 idempotency_request_in_progress or the first response; one case."""
    copies = 6
    clients = [make_client() for _ in range(copies)]
    barrier = threading.Barrier(copies)
    responses: list[Response | BaseException] = [RuntimeError("not run")] * copies

    def send(i: int) -> None:
        barrier.wait()
        try:
            responses[i] = post(clients[i], COORDINATOR, "/cases", SUZUKI, **keyed("once"))
        except BaseException as exc:  # reported below with the others
            responses[i] = exc

    threads = [threading.Thread(target=send, args=(i,)) for i in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)

    answers = [r for r in responses if isinstance(r, Response)]
    assert len(answers) == copies, responses
    ran = [r for r in answers if r.status_code == 201 and REPLAYED not in r.headers]
    assert len(ran) == 1, [(r.status_code, r.text) for r in answers]
    for r in answers:
        if r.status_code == 409:
            problem(r, 409, "idempotency_request_in_progress")
            assert r.headers["retry-after"] == "1"
        else:
            assert r.status_code == 201 and r.content == ran[0].content
    assert case_count(clients[0]) == 1
    final = post(clients[0], COORDINATOR, "/cases", SUZUKI, **keyed("once"))
    assert final.content == ran[0].content and final.headers[REPLAYED] == "true"
