"""Request limits (OWASP API4), no mass assignment, and structured logs without personal data."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from service import logs
from service.api.deps import CurrentActor
from service.main import create_app
from service.settings import Settings
from tests.e2e.support import (
    CENTER,
    CENTER_AGENCY,
    CITY,
    COORDINATOR,
    COORDINATOR_AGENCY,
    OUTREACH_AGENCY,
    SELF_RELIANCE,
    SELF_RELIANCE_AGENCY,
    YAMADA,
    as_,
    case_in_planning,
    item,
    meeting_body,
    ok,
    plan_body,
    post,
    problem,
    referral,
)

SMALL = 2_000


def app_with(database_url: str, **settings: Any) -> FastAPI:
    """Return a new app on the test database with some settings changed."""
    return create_app(Settings(database_url=database_url, **settings))


def body_of(document: Any) -> bytes:
    """Return `document` as the JSON bytes a client would send."""
    return json.dumps(document, ensure_ascii=False).encode()


def send(client: TestClient, body: bytes, chunked: bool, key: str = COORDINATOR) -> Response:
    """POST a referral, with Content-Length or as a chunked stream without one."""
    content: Any = iter([body]) if chunked else body
    headers = {**as_(key), "Content-Type": "application/json"}
    return client.post("/cases", content=content, headers=headers)


def case_total(client: TestClient) -> int:
    """Return how many cases the coordinator's municipality has."""
    total: int = ok(client.get("/cases", headers=as_(COORDINATOR)))["total"]
    return total


# --- body size ------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_the_cap_answers_413_and_a_body_at_the_cap_passes(
    database_url: str, chunked: bool
) -> None:
    """OWASP API4: one byte over max_body_bytes is refused, declared or streamed; never a 500."""
    body = body_of(YAMADA)
    at_cap = TestClient(app_with(database_url, max_body_bytes=len(body)))
    below_cap = TestClient(app_with(database_url, max_body_bytes=len(body) - 1))

    refused = send(below_cap, body, chunked)
    assert ("content-length" in refused.request.headers) is not chunked
    problem(refused, 413, "payload_too_large")
    assert "x-request-id" in refused.headers
    assert case_total(below_cap) == 0
    assert send(at_cap, body, chunked).status_code == 201


def test_streamed_chunks_are_counted_across_messages(database_url: str) -> None:
    """OWASP API4: many small chunks without Content-Length are cut off once they pass the cap."""
    app = app_with(database_url, max_body_bytes=SMALL)
    chunk = b'{"referral": {"reason": "' + b"x" * 100
    chunks = [chunk] * 40
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": chunks.pop(), "more_body": bool(chunks)}

    async def record(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/cases",
        "raw_path": b"/cases",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"x-api-key", b"dev-coordinator")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, record))

    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "payload_too_large"
    assert len(chunks) == 40 - (SMALL // len(chunk) + 1)  # reading stopped once past the cap


# --- rate limit -----------------------------------------------------------------------------


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_rate_limit_per_credential_answers_429_with_retry_after(database_url: str) -> None:
    """OWASP API4: each credential (and each anonymous address) has its own per-minute budget."""
    app = app_with(database_url, rate_limit_per_minute=5)
    client = TestClient(app)
    for _ in range(5):
        ok(client.get("/cases", headers=as_(COORDINATOR)))
    refused = client.get("/cases", headers=as_(COORDINATOR))
    problem(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 12  # one request per 12 s at 5 a minute
    assert "x-request-id" in refused.headers

    ok(client.get("/cases", headers=as_(CITY)))  # another credential is not affected
    unknown = [client.get("/cases", headers=as_("no-such-key")).status_code for _ in range(6)]
    assert unknown == [401] * 5 + [429]  # refused credentials spend their budget too
    anonymous = [client.get("/workflow").status_code for _ in range(6)]
    assert anonymous == [200] * 5 + [429]


def test_guessing_credentials_is_limited_per_address(database_url: str) -> None:
    """OWASP API2/API4: each guess is a new credential with a fresh budget of its own, so the
    refused credentials of one address share a budget; once spent, the address gets 429."""
    app = app_with(database_url, rate_limit_per_minute=100, auth_failures_per_minute=3)
    client = TestClient(app)
    guesses = [client.get("/cases", headers=as_(f"guess-{i}")).status_code for i in range(5)]
    assert guesses == [401, 401, 401, 429, 429]
    problem(client.get("/cases", headers=as_("guess-9")), 429, "rate_limited")
    ok(TestClient(app, client=("192.0.2.7", 50000)).get("/cases", headers=as_(COORDINATOR)))
    app.state.auth_failure_limiter.clock = Clock(app.state.auth_failure_limiter.clock() + 20)
    ok(client.get("/cases", headers=as_(COORDINATOR)))  # refilled: one failure per 20 s


def test_rate_limit_budget_refills_with_time(database_url: str) -> None:
    """OWASP API4: after Retry-After seconds the credential may send again."""
    app = app_with(database_url, rate_limit_per_minute=5)
    clock = Clock(app.state.rate_limiter.clock())
    app.state.rate_limiter.clock = clock
    client = TestClient(app)
    for _ in range(5):
        ok(client.get("/cases", headers=as_(COORDINATOR)))
    assert client.get("/cases", headers=as_(COORDINATOR)).headers["Retry-After"] == "12"
    clock.now += 11
    assert client.get("/cases", headers=as_(COORDINATOR)).headers["Retry-After"] == "1"
    clock.now += 1
    ok(client.get("/cases", headers=as_(COORDINATOR)))


# --- page size and mass assignment ----------------------------------------------------------


@pytest.mark.parametrize("path", ["/cases", "/meetings"])
def test_page_size_over_the_cap_is_422(client: TestClient, path: str) -> None:
    """OWASP API4: a list's `limit` above 200 is malformed; 200 itself is served."""
    refused = problem(
        client.get(path, params={"limit": 201}, headers=as_(COORDINATOR)), 422, "validation_failed"
    )
    assert [e["loc"] for e in refused["errors"]] == [["query", "limit"]]
    assert ok(client.get(path, params={"limit": 200}, headers=as_(COORDINATOR)))["limit"] == 200


def test_unknown_fields_are_refused_and_nothing_is_written(client: TestClient) -> None:
    """OWASP API3 (mass assignment): a field the schema lacks answers 422 and changes nothing."""
    case_id = case_in_planning(client)
    before = ok(client.get(f"/cases/{case_id}", headers=as_(COORDINATOR)))
    history = ok(client.get(f"/cases/{case_id}/events", headers=as_(COORDINATOR)))
    plan = plan_body([(COORDINATOR_AGENCY, "coordinator", "全体調整")])
    attempts = [
        ("/cases", {**YAMADA, "municipality_id": "other-town"}, ["municipality_id"]),
        ("/cases", {**YAMADA, "person": {**YAMADA["person"], "role": "x"}}, ["person", "role"]),
        (f"/cases/{case_id}/plans", {**plan, "version": 99}, ["version"]),
        (f"/cases/{case_id}/plans", {**plan, "state": "in_support"}, ["state"]),
        (f"/cases/{case_id}/assessment-start", {"actor": {"role": "municipality"}}, ["actor"]),
        (
            "/meetings",
            {**meeting_body([item(case_id, "plan", 1)]), "municipality_id": "other-town"},
            ["municipality_id"],
        ),
    ]
    for path, body, loc in attempts:
        refused = problem(post(client, COORDINATOR, path, body), 422, "validation_failed")
        assert [(e["loc"], e["type"]) for e in refused["errors"]] == [
            (["body", *loc], "extra_forbidden")
        ]
    decision = {"granted": True, "decided_on": "2026-05-12", "actor": {"role": "municipality"}}
    problem(
        post(client, CITY, f"/cases/{case_id}/support-decisions", decision),
        422,
        "validation_failed",
    )

    assert ok(client.get(f"/cases/{case_id}", headers=as_(COORDINATOR))) == before
    assert ok(client.get(f"/cases/{case_id}/events", headers=as_(COORDINATOR))) == history
    assert case_total(client) == 1
    assert ok(client.get("/meetings", headers=as_(COORDINATOR)))["total"] == 0


# --- access log -----------------------------------------------------------------------------


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Return the captured `kasane.access` records."""
    return [r for r in caplog.records if r.name == "kasane.access"]


def test_one_access_record_per_request_with_route_template_and_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Each request gets an id, echoed in X-Request-ID and carried by its access record."""
    caplog.set_level(logging.INFO, logger="kasane.access")
    response = client.get("/cases/c-1/events", headers=as_(COORDINATOR))
    [record] = [vars(r) for r in access_records(caplog)]
    assert record["request_id"] == response.headers["X-Request-ID"]
    assert (record["method"], record["route"], record["status"]) == (
        "GET",
        "/cases/{case_id}/events",
        response.status_code,
    )
    assert isinstance(record["duration_ms"], float)


@pytest.mark.parametrize(
    ("incoming", "echoed"),
    [("trace-0123-abcd", True), ("x" * 64, True), ("x" * 65, False), ("bad id;drop", False)],
)
def test_incoming_request_id_is_kept_only_if_sane(
    client: TestClient, incoming: str, echoed: bool
) -> None:
    """A caller's X-Request-ID of ≤ 64 letters, digits and dashes is kept; another is replaced."""
    answered = client.get("/workflow", headers={"X-Request-ID": incoming}).headers["X-Request-ID"]
    assert (answered == incoming) is echoed
    assert 1 <= len(answered) <= 64


def test_the_acting_party_is_logged_once_known_and_never_the_credential(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """logs.note_actor (called where the credential is resolved) names the actor in the record."""
    app = app_with(database_url)

    def whoami(actor: CurrentActor) -> dict[str, str]:
        logs.note_actor(actor)  # from the thread pool, as a sync dependency would
        return {}

    app.add_api_route("/whoami", whoami)
    caplog.set_level(logging.INFO, logger="kasane.access")
    TestClient(app).get("/whoami", headers=as_(CENTER))
    [record] = [vars(r) for r in access_records(caplog)]
    assert (record["municipality_id"], record["agency_id"], record["role"]) == (
        "demo-city",
        CENTER_AGENCY,
        "community_general_support_center",
    )
    assert CENTER not in repr(record)


def test_every_json_line_carries_the_request_id_and_only_the_exception_type(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Any record logged while serving a request gets its id; an exception only its type name."""
    app = app_with(database_url)

    def fails_quietly() -> dict[str, str]:
        try:
            raise ValueError("personal detail 山田")
        except ValueError:
            logging.getLogger("kasane.anything").exception("lookup failed")
        return {}

    app.add_api_route("/quiet", fails_quietly)
    capsys.readouterr()
    request_id = TestClient(app).get("/quiet").headers["X-Request-ID"]
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    [failed] = [line for line in lines if line["logger"] == "kasane.anything"]
    assert failed["request_id"] == request_id
    assert (failed["level"], failed["message"], failed["exc_type"]) == (
        "ERROR",
        "lookup failed",
        "ValueError",
    )
    assert "山田" not in json.dumps(lines, ensure_ascii=False)


# --- no personal data in the logs -----------------------------------------------------------

NAME = "山田ハナPLANTED"
SON = "山田タロウPLANTED"
ADDRESS = "架空県架空市PLANTED町1-2-3"
PHONE = "090-PLANTED-0001"
EMAIL = "hana.planted@example.invalid"
NARRATIVE = "PLANTED長男が20年自室にひきこもり、母の年金で暮らす"
SUMMARY = "PLANTEDハナさんの家計と長男の孤立"
API_KEY = "planted-api-key-0001"
TOKEN = "planted.jwt.token"
PLANTED = [NAME, SON, ADDRESS, PHONE, EMAIL, NARRATIVE, SUMMARY, API_KEY, TOKEN]
# The test's own HTTP client logs full URLs; it is not the service.
CLIENT_LOGGERS = ("httpx", "httpcore")


def planted_case() -> dict[str, Any]:
    """Return a referral whose every personal field holds a planted value."""
    return {
        "referral": referral(CENTER_AGENCY, "community_general_support_center", NARRATIVE),
        "person": {
            "name": NAME,
            "name_kana": "やまだはなPLANTED",
            "sex": "female",
            "address": ADDRESS,
            "phone": PHONE,
            "email": EMAIL,
        },
        "household": [{"name": SON, "age": 53, "relationship": "長男", "note": NARRATIVE}],
    }


def drive_full_case(client: TestClient) -> str:
    """Refer, consent, assess, plan, meet, decide, monitor and close Hana's planted case."""
    case_id: str = ok(post(client, CENTER, "/cases", planted_case()), 201)["case_id"]
    roles = [
        (COORDINATOR_AGENCY, "coordinator", NARRATIVE),
        (CENTER_AGENCY, "community_general_support_center", f"{NAME}さんの見守り"),
        (OUTREACH_AGENCY, "outreach_provider", f"{SON}さんへの訪問"),
    ]
    consent = {
        "person_id": "person",
        "application_for_use": True,
        "agency_ids": [CENTER_AGENCY, SELF_RELIANCE_AGENCY],
        "given_by": "person",
        "given_on": "2026-04-03",
        "method": NARRATIVE,
    }
    assessment = {
        "domains": [{"domain": "家族関係", "items": [SON], "narrative": NARRATIVE}],
        "summary": SUMMARY,
    }
    for command, body in [
        ("consents", consent),
        ("assessment-start", {}),
        ("assessments", assessment),
        ("plans", plan_body(roles, ["outreach"], [SUMMARY])),
    ]:
        ok(post(client, COORDINATOR, f"/cases/{case_id}/{command}", body))
    meeting = meeting_body([{**item(case_id, "plan", 1), "note": NARRATIVE}], title=NAME)
    meeting_id = ok(post(client, COORDINATOR, "/meetings", meeting), 201)["meeting_id"]
    monitoring = {"on": "2026-06-01", "summary": SUMMARY, "contact_made": True}
    for key, command, body in [
        (COORDINATOR, "plan-approval", {"meeting_id": meeting_id}),
        (CITY, "support-decisions", {"granted": True, "decided_on": "2026-05-12"}),
        (SELF_RELIANCE, "monitoring", monitoring),
    ]:
        ok(post(client, key, f"/cases/{case_id}/{command}", body))
    closing = meeting_body([item(case_id, "closure", 1)], held_on="2027-03-10")
    closing_id = ok(post(client, COORDINATOR, "/meetings", closing), 201)["meeting_id"]
    closure = {
        "meeting_id": closing_id,
        "lead_agency_id": CENTER_AGENCY,
        "follow_up": {"needed": True, "method": f"{ADDRESS}への訪問"},
        "goal_attainment": SUMMARY,
    }
    assert ok(post(client, COORDINATOR, f"/cases/{case_id}/closure", closure))["state"] == "closed"
    for key in (CENTER, SELF_RELIANCE, COORDINATOR):  # reads, redacted or not
        ok(client.get(f"/cases/{case_id}", headers=as_(key)))
        ok(client.get(f"/cases/{case_id}/events", headers=as_(key)))
    return case_id


def refuse_and_break(client: TestClient, case_id: str) -> None:
    """Send refused and malformed requests that carry the planted values everywhere."""
    json_type = {"Content-Type": "application/json"}
    decision = {"granted": False, "reason": NARRATIVE, "decided_on": "2026-05-12"}
    broken = body_of(planted_case())
    bad_date = {**planted_case(), "referral": {**planted_case()["referral"], "received_on": NAME}}
    answers = [
        (client.get("/cases", headers=as_(API_KEY)), 401, "unauthenticated"),
        (
            client.get("/cases", headers={"Authorization": f"Bearer {TOKEN}"}),
            401,
            "unauthenticated",
        ),
        (
            post(client, COORDINATOR, f"/cases/{case_id}/support-decisions", decision),
            403,
            "role_not_permitted",
        ),
        (post(client, COORDINATOR, f"/cases/{case_id}/replan", {"reason": NARRATIVE}), 409, None),
        (post(client, CENTER, "/cases", {**planted_case(), "note": NAME}), 422, None),
        (post(client, CENTER, "/cases", bad_date), 422, None),
        (client.post("/cases", content=broken[:-3], headers=json_type), 422, "validation_failed"),
        (client.post("/cases", content=broken[:-5], headers=json_type), 400, None),  # cut UTF-8
        (send(client, body_of({"n": NARRATIVE * 2_000}), chunked=True), 413, "payload_too_large"),
        (client.get(f"/cases/{NAME}", headers=as_(COORDINATOR)), 422, "validation_failed"),
        (client.get(f"/{ADDRESS}", headers=as_(COORDINATOR)), 404, "not_found"),
        (client.get("/boom", headers=as_(COORDINATOR)), 500, "internal_error"),
    ]
    for response, status, code in answers:
        if code is None:
            assert response.status_code == status, response.text
        else:
            problem(response, status, code)
    query = {"state": NAME, "lead_agency_id": PHONE}
    assert client.get("/cases", params=query, headers=as_(CITY)).status_code < 500


@pytest.fixture
def planted_app(database_url: str) -> FastAPI:
    """Return an app with a tight rate limit and a route whose failure message is personal."""
    app = app_with(database_url, max_body_bytes=20_000, rate_limit_per_minute=60)

    def boom() -> None:
        raise RuntimeError(f"could not reach {NAME} at {ADDRESS}, {PHONE}")

    app.add_api_route("/boom", boom)
    return app


def test_logs_hold_no_personal_data_and_every_access_record_its_request_id(
    planted_app: FastAPI, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """A whole case, refusals and malformed requests full of planted personal values: none of
    them reaches any log record (message, arguments, extra fields) nor the JSON log lines.
    """
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="kasane")
    responses: list[Response] = []
    client = TestClient(planted_app, raise_server_exceptions=False)
    client.event_hooks = {"response": [responses.append]}

    case_id = drive_full_case(client)
    refuse_and_break(client, case_id)
    # Spend the credential's budget (it refills at one a second, so send until refused).
    spent: list[int] = []
    while len(spent) < 300 and 429 not in spent:
        spent.append(client.get("/cases", headers=as_(API_KEY)).status_code)
    assert spent[-1] == 429

    service_records = [r for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)]
    for record in service_records:
        text = f"{record.getMessage()} {record.args!r} {vars(record)!r}"
        leaked = [p for p in PLANTED if p in text] + ["planted"] * ("planted" in text.lower())
        assert not leaked, (leaked, record.name, record.getMessage())
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    service_lines = [line for line in lines if not line["logger"].startswith(CLIENT_LOGGERS)]
    assert service_lines
    assert "planted" not in json.dumps(service_lines, ensure_ascii=False).lower()

    access = [vars(r) for r in service_records if r.name == "kasane.access"]
    assert len(access) == len(responses)
    for record, response in zip(access, responses, strict=True):
        assert record["status"] == response.status_code
        assert "/" + case_id not in str(record["route"])  # the template, not the path
        if response.status_code != 500:  # Starlette answers a crash outside the middleware
            assert record["request_id"] == response.headers["X-Request-ID"]
    [failed] = [r for r in access if r["status"] == 500]
    assert (failed["route"], failed["exc_type"]) == ("/boom", "RuntimeError")
    [unhandled] = [line for line in service_lines if "unhandled" in line["message"]]
    assert unhandled["request_id"] == failed["request_id"]
