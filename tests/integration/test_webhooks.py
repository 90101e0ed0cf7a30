"""Webhooks end to end: outbox written with the events, delivered to a real loopback receiver.

The receiver is an `http.server` on 127.0.0.1 (ephemeral port) that answers 500 to its first
requests, then 200. The dispatcher runs with the real httpx sender and a fake clock that jumps to
the next due attempt, so back-off costs no wall time.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from service import cli
from service.domain.values import Role
from service.integration import webhooks
from service.main import create_app
from service.persistence.tables import event_index, webhook_deliveries, webhook_outbox
from service.settings import Settings, get_settings
from tests.e2e.support import (
    CITY,
    COORDINATOR,
    HOARDING_COUPLE,
    SATO,
    YAMADA,
    as_,
    assess,
    consent,
    ok,
    problem,
    refer,
    start_assessment,
)

Json = dict[str, Any]
POLICY = webhooks.RetryPolicy(max_attempts=4, base_seconds=10, max_seconds=30)


@dataclass
class Receiver:
    """A loopback endpoint that fails its first `failures` requests (or all, if negative)."""

    failures: int
    requests: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    slow_first: float = 0.0  # seconds the first request waits before its answer

    def answer(self, headers: dict[str, str], body: bytes) -> tuple[int, float]:
        """Record a request; return its status and how long to wait before answering."""
        with self.lock:
            status = 500 if self.failures < 0 or len(self.requests) < self.failures else 200
            self.requests.append((status, headers, body))
            return status, self.slow_first if len(self.requests) == 1 else 0.0

    def delivered(self) -> list[Json]:
        """Return the envelopes the receiver accepted, in arrival order."""
        return [json.loads(body) for status, _, body in self.requests if status == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """Serve a Receiver on 127.0.0.1 on an ephemeral port, in a thread."""
    state = Receiver(failures=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status, wait = state.answer(dict(self.headers), body)
            time.sleep(wait)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def subscribe(client: TestClient, url: str, key: str = CITY, **body: Any) -> Json:
    """Create a subscription; return the answer (with the secret)."""
    return ok(client.post("/webhooks", json={"url": url, **body}, headers=as_(key)), 201)


def drain(engine: Engine, start: datetime, rounds: int = 100) -> datetime:
    """Run the dispatcher, jumping the clock to each next due attempt, until nothing is due."""
    sender = webhooks.http_sender(timeout=2.0)
    now = start
    for _ in range(rounds):
        webhooks.dispatch_due(engine, now, sender, POLICY)
        due = webhooks.next_due(engine)
        if due is None:
            return now
        now = max(now, due)
    raise AssertionError("the outbox did not drain")


def readme_verifier() -> Callable[..., bool]:
    """Return `verify_kasane_signature` as printed in the README's Webhooks section."""
    text = cli.README.read_text(encoding="utf-8")
    block = text.split("<!-- webhook-verify:begin -->", 1)[1].split("<!-- webhook-verify:end -->")[
        0
    ]
    namespace: dict[str, Any] = {}
    exec(block.split("```python", 1)[1].rsplit("```", 1)[0], namespace)
    verifier: Callable[..., bool] = namespace["verify_kasane_signature"]
    return verifier


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Check the request's signature with the README's code, at the moment it was signed."""
    sent = int(headers["Kasane-Timestamp"])
    assert headers["Kasane-Signature"].startswith(f"t={sent},v1=")
    return readme_verifier()(secret, headers["Kasane-Signature"], body, now=sent)


def stored_events(engine: Engine, municipality_id: str = "demo-city") -> list[tuple[str, int]]:
    """Return (stream, version) of every indexed event of the municipality."""
    query = select(event_index.c.originator_id, event_index.c.originator_version).where(
        event_index.c.municipality_id == municipality_id
    )
    with engine.connect() as conn:
        return [(r[0], r[1]) for r in conn.execute(query)]


def work_on_cases(client: TestClient) -> list[str]:
    """Three cases worked on in interleaved steps; return their ids."""
    ids = [refer(client, case)["case_id"] for case in (YAMADA, SATO, HOARDING_COUPLE)]
    for case_id in ids:
        consent(client, case_id, ["demo-general-support-center"])
    for case_id in ids[:2]:
        start_assessment(client, case_id)
    assess(client, ids[0], summary="長男の生活歴と家計の詳細")
    return ids


def test_every_event_arrives_in_order_per_case_signed_despite_failures(
    client: TestClient, engine: Engine, receiver: Receiver
) -> None:
    """At least once, in order per case, signed: the receiver fails its first 5 requests."""
    receiver.failures = 5
    hook = subscribe(client, receiver.url)
    work_on_cases(client)
    expected = stored_events(engine)
    assert len(expected) == 9

    drain(engine, datetime.now(UTC))

    delivered = receiver.delivered()
    # every event arrived; a duplicate (at least once) would carry an id already seen
    assert {e["id"] for e in delivered} == {f"{s}:{v}" for s, v in expected}
    for _, headers, body in receiver.requests:
        assert verify(hook["secret"], headers, body)
        assert not verify("not-the-secret-at-all", headers, body)
        signed, sent = headers["Kasane-Signature"], int(headers["Kasane-Timestamp"])
        assert not readme_verifier()(hook["secret"], signed, body + b" ", now=sent)
        assert not readme_verifier()(hook["secret"], signed, body, now=sent + 301)  # a replay
        assert headers["Kasane-Event-Id"] == json.loads(body)["id"]
    # per case, no request ever named a later event before the earlier one was accepted
    for stream, _ in expected:
        tried = [
            json.loads(b)["data"]["version"] for _, _, b in receiver.requests if stream in str(b)
        ]
        accepted = [e["data"]["version"] for e in delivered if e["data"].get("case_id") == stream]
        assert tried == sorted(tried)
        assert accepted == sorted(set(accepted))
    with engine.connect() as conn:
        statuses = conn.execute(select(webhook_outbox.c.status)).scalars().all()
        log = conn.execute(select(webhook_deliveries)).all()
    assert statuses == ["delivered"] * 9
    assert len(log) == len(receiver.requests) == 9 + 5
    assert sorted((r.status_code, r.outcome) for r in log)[:9] == [(200, "delivered")] * 9
    assert [(r.status_code, r.outcome) for r in log if r.outcome != "delivered"] == [
        (500, "rejected")
    ] * 5


def test_back_off_doubles_then_dead_letters_and_replay_delivers(
    client: TestClient, engine: Engine, receiver: Receiver
) -> None:
    """A receiver that always fails: base × 2^attempts (capped) apart, dead after N, replayable."""
    receiver.failures = -1
    subscribe(client, receiver.url)
    case_id = refer(client, YAMADA)["case_id"]
    consent(client, case_id, ["demo-general-support-center"])
    start = datetime.now(UTC)

    drain(engine, start)

    with engine.connect() as conn:
        rows = conn.execute(select(webhook_outbox).order_by(webhook_outbox.c.id)).all()
        first = conn.execute(
            select(webhook_deliveries.c.attempted_at).where(
                webhook_deliveries.c.outbox_id == rows[0].id
            )
        ).scalars()
        moments = [datetime.fromisoformat(m) for m in first]
    assert [(r.status, r.attempts) for r in rows] == [("dead", POLICY.max_attempts)] * 2
    assert [b - a for a, b in itertools.pairwise(moments)] == [
        timedelta(seconds=s) for s in (10, 20, 30)
    ]
    # the second event was held back until the first was dead-lettered
    tried = [json.loads(b)["data"]["version"] for _, _, b in receiver.requests]
    assert tried == [1] * 4 + [2] * 4
    listed = ok(client.get("/webhooks", headers=as_(CITY)))
    assert (listed[0]["pending"], listed[0]["dead"]) == (0, 2)

    problem(
        client.post("/webhooks/dead-letters/replay", json={}, headers=as_(COORDINATOR)),
        403,
        "role_not_permitted",
    )
    replayed = ok(client.post("/webhooks/dead-letters/replay", json={}, headers=as_(CITY)))
    assert replayed == {"replayed": 2}
    receiver.failures = 0
    receiver.requests.clear()
    drain(engine, datetime.now(UTC) + timedelta(hours=1))
    assert [e["data"]["version"] for e in receiver.delivered()] == [1, 2]
    assert ok(client.get("/webhooks", headers=as_(CITY)))[0]["dead"] == 0


def test_subscriptions_are_per_tenant_and_secrets_shown_once(
    client: TestClient, engine: Engine, make_api_key: Callable[[str, Role], str]
) -> None:
    """Generated secret returned once, never listed; another tenant's id answers 404."""
    mine = subscribe(client, "https://vendor.example/hooks", event_types=["CaseReferred"])
    given = subscribe(client, "https://other.example/h", secret="s" * 20)
    assert mine["secret"].startswith("whsec_") and given["secret"] == "s" * 20
    listed = ok(client.get("/webhooks", headers=as_(CITY)))
    assert {s["id"] for s in listed} == {mine["id"], given["id"]}
    assert all("secret" not in s for s in listed)
    assert mine["secret"] not in client.get("/webhooks", headers=as_(CITY)).text

    other = make_api_key("other-town", Role.municipality)
    assert ok(client.get("/webhooks", headers=as_(other))) == []
    problem(client.delete(f"/webhooks/{mine['id']}", headers=as_(other)), 404, "not_found")
    body = {"subscription_id": mine["id"]}
    problem(
        client.post("/webhooks/dead-letters/replay", json=body, headers=as_(other)),
        404,
        "not_found",
    )
    problem(
        client.post(
            "/webhooks",
            json={"url": "https://x.example", "event_types": ["Nope"]},
            headers=as_(CITY),
        ),
        422,
        "validation_failed",
    )
    problem(
        client.post("/webhooks", json={"url": "ftp://x.example"}, headers=as_(CITY)),
        422,
        "validation_failed",
    )

    # the filter: `mine` gets only CaseReferred; after deletion `given` gets nothing more
    case_id = refer(client, SATO)["case_id"]
    assert client.delete(f"/webhooks/{given['id']}", headers=as_(CITY)).status_code == 204
    consent(client, case_id, ["demo-general-support-center"])
    with engine.connect() as conn:
        rows = conn.execute(select(webhook_outbox.c.subscription_id, webhook_outbox.c.status))
        by_status = sorted((sid == mine["id"], status) for sid, status in rows)
    assert by_status == [(False, "cancelled"), (True, "pending")]
    problem(client.delete(f"/webhooks/{given['id']}", headers=as_(CITY)), 404, "not_found")


def test_outbox_is_written_with_the_events_and_carries_no_personal_data(
    client: TestClient, engine: Engine
) -> None:
    """One row per (subscription, event) in the command's transaction; payloads are bare facts."""
    subscribe(client, "https://a.example/h")
    subscribe(client, "https://b.example/h")
    case_id = refer(client, YAMADA)["case_id"]
    consent(client, case_id, ["demo-general-support-center"])
    start_assessment(client, case_id)
    assess(client, case_id, summary="長男の生活歴と家計の詳細")
    # a refused command writes neither events nor outbox rows
    stale = client.post(
        f"/cases/{case_id}/explanations",
        json={"kind": "explanation", "on": "2026-04-02"},
        headers={**as_(COORDINATOR), "If-Match": '"1"'},
    )
    problem(stale, 412, "version_conflict")

    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(webhook_outbox)).scalar_one()
        payloads = conn.execute(select(webhook_outbox.c.payload)).scalars().all()
    assert count == 2 * len(stored_events(engine)) == 8
    text = "\n".join(payloads)
    for personal in (
        "山田",
        "やまだ",
        "長男",
        "female",
        "生活歴",
        "公共料金",
        "家計",
        "ひきこもり",
    ):
        assert personal not in text
    envelope = json.loads(payloads[0])
    assert envelope["type"] == "jp.kasane.CaseReferred"
    assert envelope["data"] == {"case_id": case_id, "version": 1, "state": "referred"}
    # the same envelope as the feed's (GET /events), with `data` cut down
    feed = ok(client.get("/events", headers=as_(CITY)))["items"][0]
    assert {**feed, "data": envelope["data"]} == envelope


def test_cli_dispatches_and_replays(
    client: TestClient,
    engine: Engine,
    receiver: Receiver,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`kasane webhooks dispatch` sends what is due; `replay-dead` revives dead letters."""
    monkeypatch.setenv("KASANE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("KASANE_WEBHOOK_MAX_ATTEMPTS", "1")
    get_settings.cache_clear()
    try:
        receiver.failures = 1
        subscribe(client, receiver.url)
        refer(client, SATO)
        assert cli.main(["webhooks", "dispatch"]) == 0
        assert "delivered 0, failed 1, dead-lettered 1" in capsys.readouterr().out
        assert cli.main(["webhooks", "replay-dead", "--municipality", "demo-city"]) == 0
        assert "1 dead letter(s) pending again" in capsys.readouterr().out
        assert cli.main(["webhooks", "dispatch"]) == 0
        assert "delivered 1, failed 0" in capsys.readouterr().out
    finally:
        get_settings.cache_clear()


def test_the_server_dispatches_in_the_background_only_when_enabled(
    settings: Settings, receiver: Receiver, engine: Engine
) -> None:
    """KASANE_WEBHOOK_DISPATCH_INTERVAL_SECONDS > 0 starts the dispatcher with the app."""
    enabled = settings.model_copy(update={"webhook_dispatch_interval_seconds": 0.05})
    with TestClient(create_app(enabled)) as live:
        subscribe(live, receiver.url)
        refer(live, SATO)
        deadline = time.monotonic() + 20  # generous under load; stops once delivered
        while not receiver.delivered() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [e["type"] for e in receiver.delivered()] == ["jp.kasane.CaseReferred"]


def test_a_lost_answer_is_sent_again_and_the_duplicate_is_identifiable(
    client: TestClient, engine: Engine, receiver: Receiver
) -> None:
    """At least once: the receiver stores the first request but answers after the timeout."""
    receiver.slow_first = 0.5
    subscribe(client, receiver.url)
    refer(client, SATO)
    sender = webhooks.http_sender(timeout=0.1)
    now = datetime.now(UTC)
    for _ in range(5):
        webhooks.dispatch_due(engine, now, sender, POLICY)
        due = webhooks.next_due(engine)
        if due is None:
            break
        now = max(now, due)
    ids = [json.loads(body)["id"] for _, _, body in receiver.requests]
    assert len(ids) == 2 and ids[0] == ids[1]  # the same event twice: the receiver drops one
    with engine.connect() as conn:
        outcomes = conn.execute(select(webhook_deliveries.c.outcome)).scalars().all()
    assert outcomes == ["timeout", "delivered"]
