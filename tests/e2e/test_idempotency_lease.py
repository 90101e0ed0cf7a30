"""Issue #12: an Idempotency-Key is answered with the command's transaction, so no key is stuck.

The outcome is written with the events; a running request holds the key by a lease of a few
seconds; a lease whose owner is gone is taken over; a committed outcome whose answer was never
kept is rendered again; an ambiguous COMMIT is looked up; expired keys are purged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from service.api.idempotency import fingerprint_of, purge_expired
from service.persistence.tables import idempotency_keys
from tests.e2e.support import (
    CITY,
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
from tests.e2e.test_idempotency import REPLAYED, case_count, explain, keyed, stored_keys


def _scope(client: TestClient) -> tuple[str, str]:
    """The (municipality, agency) the coordinator's keys belong to."""
    response = post(client, COORDINATOR, "/cases", SATO, **keyed("probe"))
    with client.app.state.kasane.engine.connect() as conn:  # type: ignore[attr-defined]
        row = conn.execute(select(idempotency_keys).where(idempotency_keys.c.key == "probe")).one()
    assert response.status_code == 201
    return row.municipality_id, row.agency_id


def _row(engine: Engine, key: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            select(idempotency_keys).where(idempotency_keys.c.key == key)
        ).one_or_none()


def _lease(engine: Engine, scope: tuple[str, str], key: str, body: Any, expires_in: float) -> None:
    """A key held by an owner that is gone (or still running), its lease ending in expires_in."""
    now = datetime.now(UTC)
    fingerprint = fingerprint_of("POST", "/cases", json.dumps(body).encode(), "coordinator")
    with engine.begin() as conn:
        conn.execute(
            insert(idempotency_keys).values(
                municipality_id=scope[0],
                agency_id=scope[1],
                key=key,
                fingerprint=fingerprint,
                created_at=now.isoformat(),
                expires_at=(now + timedelta(hours=24)).isoformat(),
                owner="a-process-that-was-killed",
                lease_expires_at=(now + timedelta(seconds=expires_in)).isoformat(),
            )
        )


def _post_raw(client: TestClient, path: str, body: Any, key: str) -> Any:
    """POST the exact bytes `_lease` fingerprinted."""
    return client.post(
        path,
        content=json.dumps(body).encode(),
        headers={
            "X-API-Key": COORDINATOR,
            "Idempotency-Key": key,
            "Content-Type": "application/json",
        },
    )


def test_a_lease_whose_owner_died_does_not_block_the_retry(
    client: TestClient, engine: Engine
) -> None:
    """A key left by a killed process answers 409 only while its lease runs (seconds, not
    hours); after it the retry takes the key over and runs once."""
    scope = _scope(client)
    _lease(engine, scope, "dead-owner", SUZUKI, expires_in=-0.5)
    taken = _post_raw(client, "/cases", SUZUKI, "dead-owner")
    assert ok(taken, 201) and REPLAYED not in taken.headers
    again = _post_raw(client, "/cases", SUZUKI, "dead-owner")
    assert again.content == taken.content and again.headers[REPLAYED] == "true"
    assert case_count(client) == 2  # the probe and this one

    _lease(engine, scope, "live-owner", SUZUKI, expires_in=30)
    busy = problem(
        _post_raw(client, "/cases", SUZUKI, "live-owner"), 409, "idempotency_request_in_progress"
    )
    assert busy["status"] == 409
    assert case_count(client) == 2


def test_a_request_that_lost_its_lease_commits_nothing(client: TestClient, engine: Engine) -> None:
    """If another request took the key over while the first ran, the first's commit fails
    (its outcome is written only while it owns the key) and nothing of it is stored."""
    kasane = client.app.state.kasane  # type: ignore[attr-defined]
    refer_case = kasane.refer_case

    def overtaken(*args: Any, **kwargs: Any) -> Any:
        with engine.begin() as conn:
            conn.execute(
                update(idempotency_keys)
                .where(idempotency_keys.c.key == "overtaken")
                .values(owner="another-request")
            )
        return refer_case(*args, **kwargs)

    kasane.refer_case = overtaken
    lost = post(client, COORDINATOR, "/cases", SUZUKI, **keyed("overtaken"))
    problem(lost, 409, "idempotency_request_in_progress")
    assert case_count(client) == 0
    row = _row(engine, "overtaken")
    assert row.owner == "another-request" and row.outcome is None and row.status_code is None


def test_a_committed_outcome_without_its_answer_is_rendered_again(
    client: TestClient, engine: Engine
) -> None:
    """The process died between the commit and keeping the answer: the retry answers the
    same status, body and headers from the outcome, and writes nothing."""
    first = post(client, COORDINATOR, "/cases", SUZUKI, **keyed("open"))
    case_id = ok(first, 201)["case_id"]
    recorded = explain(client, case_id, "explain")
    history = events(client, case_id)
    with engine.begin() as conn:  # as if the process died right after the commits
        conn.execute(
            update(idempotency_keys).values(
                status_code=None, response_body=None, response_headers=None, owner="gone"
            )
        )
    for _ in range(2):
        again = post(client, COORDINATOR, "/cases", SUZUKI, **keyed("open"))
        assert again.status_code == 201 and again.content == first.content
        for header in ("etag", "location", "content-type"):
            assert again.headers[header] == first.headers[header]
        retried = explain(client, case_id, "explain")
        assert retried.status_code == 200 and retried.content == recorded.content
        assert retried.headers["etag"] == recorded.headers["etag"]
        assert again.headers[REPLAYED] == retried.headers[REPLAYED] == "true"
    assert case_count(client) == 1 and events(client, case_id) == history
    assert _row(engine, "open").status_code == 201  # kept again by the first rendering


@contextmanager
def _commit_then_lose_connection(kasane: Any) -> Iterator[None]:
    """The next transaction commits, then its connection is reported lost (ambiguous COMMIT)."""
    group = kasane._group_commit
    real = group._transaction
    armed = True

    @contextmanager
    def transaction() -> Iterator[Any]:
        nonlocal armed
        with real() as session:
            yield session
        if armed:
            armed = False
            raise OperationalError(
                "COMMIT", {}, ConnectionResetError("server closed the connection")
            )

    group._transaction = transaction
    try:
        yield
    finally:
        group._transaction = real


@pytest.mark.parametrize("with_key", [True, False], ids=["keyed", "unkeyed"])
def test_an_ambiguous_commit_is_looked_up_not_guessed(client: TestClient, with_key: bool) -> None:
    """A connection lost during COMMIT of a command that did commit answers its success
    (looked up by the key's outcome, or by the event in the store), never 409 or 503."""
    case_id = refer(client, SUZUKI)["case_id"]
    headers = keyed("ambiguous") if with_key else {}
    kasane = client.app.state.kasane  # type: ignore[attr-defined]
    with _commit_then_lose_connection(kasane):
        answer = post(client, COORDINATOR, f"/cases/{case_id}/explanations", _note(), **headers)
    assert ok(answer)["version"] == 2
    assert case(client, case_id)["version"] == 2
    if with_key:
        retried = post(client, COORDINATOR, f"/cases/{case_id}/explanations", _note(), **headers)
        assert retried.content == answer.content and retried.headers[REPLAYED] == "true"
        assert case(client, case_id)["version"] == 2


def _note() -> dict[str, str]:
    return {"kind": "explanation", "on": "2026-04-02", "note": "制度の説明"}


def test_purge_removes_expired_keys_and_dead_leases_only(
    client: TestClient, engine: Engine
) -> None:
    """`purge_expired` (run by `kasane idempotency purge` and now and then by each process)
    deletes the keys past their TTL and the leases whose owner is gone without committing;
    answered keys within their TTL and running leases stay."""
    scope = _scope(client)  # answered, within its TTL
    ok(post(client, COORDINATOR, "/cases", SUZUKI, **keyed("answered-old")), 201)
    with engine.begin() as conn:
        past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.key == "answered-old")
            .values(expires_at=past)
        )
    _lease(engine, scope, "dead-lease", SUZUKI, expires_in=-1)
    _lease(engine, scope, "live-lease", SATO, expires_in=60)
    assert stored_keys(engine) == 4
    assert purge_expired(engine, datetime.now(UTC)) == 2
    with engine.connect() as conn:
        left = sorted(conn.execute(select(idempotency_keys.c.key)).scalars())
    assert left == ["live-lease", "probe"]


def _forget_answers(engine: Engine) -> None:
    """As if the process died right after the commits, before any answer was kept."""
    with engine.begin() as conn:
        conn.execute(
            update(idempotency_keys).values(
                status_code=None, response_body=None, response_headers=None, owner="gone"
            )
        )


def test_commands_without_events_keep_their_outcome_in_their_own_transaction(
    client: TestClient, engine: Engine
) -> None:
    """Issue #12: a webhook subscription, its deletion and an erasure write no events; their
    key's outcome is kept in their own transaction all the same, so a retry after the answer
    was lost answers the same and writes nothing again (no second subscription)."""
    body = {"url": "https://receiver.example.jp/hooks"}
    created = client.post("/webhooks", json=body, headers={**as_(CITY), **keyed("hook")})
    subscription = ok(created, 201)
    case_id = refer(client, SUZUKI)["case_id"]
    erasure = {"person_id": "person", "reason": "本人からの請求"}
    erased = post(client, CITY, f"/cases/{case_id}/erasures", erasure, **keyed("erase"))
    assert ok(erased)["erased"] is True
    for key in ("hook", "erase"):
        assert json.loads(_row(engine, key).outcome)  # kept with the write itself

    _forget_answers(engine)
    again = client.post("/webhooks", json=body, headers={**as_(CITY), **keyed("hook")})
    assert again.status_code == 201 and again.json() == subscription
    assert again.headers[REPLAYED] == "true"
    listed = ok(client.get("/webhooks", headers=as_(CITY)))
    assert [s["id"] for s in listed] == [subscription["id"]]  # not subscribed twice
    erased_again = post(client, CITY, f"/cases/{case_id}/erasures", erasure, **keyed("erase"))
    assert erased_again.status_code == 200 and erased_again.json() == erased.json()

    path = f"/webhooks/{subscription['id']}"
    deleted = client.delete(path, headers={**as_(CITY), **keyed("unhook")})
    assert deleted.status_code == 204
    _forget_answers(engine)
    deleted_again = client.delete(path, headers={**as_(CITY), **keyed("unhook")})
    assert deleted_again.status_code == 204  # not 404: the first deletion's answer
    assert ok(client.get("/webhooks", headers=as_(CITY))) == []
