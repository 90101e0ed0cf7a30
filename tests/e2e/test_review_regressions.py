"""Defects found in review, each kept as a test of the behaviour it fixed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.domain.values import Actor, Role
from service.security.api_keys import create_api_key
from tests.e2e.support import (
    CENTER,
    CENTER_AGENCY,
    COORDINATOR,
    SELF_RELIANCE_AGENCY,
    YAMADA,
    as_,
    assess,
    consent,
    ok,
    post,
    problem,
    refer,
    start_assessment,
)


def test_R_CON_4_covered_reader_sees_the_narrative_in_the_history(client: TestClient) -> None:
    """R-CON-4: a reader the consent covers reads the assessment narrative in the history too;
    an uncovered one gets the redaction marker in its place, never someone's identity."""
    case_id: str = refer(client, YAMADA, CENTER)["case_id"]
    consent(client, case_id, [CENTER_AGENCY])
    start_assessment(client, case_id)
    assess(client, case_id, summary="長男の孤立")
    for path in (f"/cases/{case_id}/events", f"/cases/{case_id}/history"):
        history = ok(client.get(path, headers=as_(CENTER)))
        completed = next(e for e in history if e["type"] == "AssessmentCompleted")
        assert completed["payload"]["assessment"]["summary"] == "長男の孤立"
        assert "name" not in completed["payload"]["assessment"]
        hidden = ok(client.get(path, headers=as_("dev-self-reliance")))
        completed = next(e for e in hidden if e["type"] == "AssessmentCompleted")
        # every text of the assessment is the person's: redacted as such (issue 11)
        assessment = completed["payload"]["assessment"]
        assert assessment["summary"]["redacted"] is True
        assert assessment["domains"]["redacted"] is True
        assert "長男の孤立" not in str(hidden) and "山田" not in str(hidden)


def test_R_INT_1_a_referring_agency_refers_as_itself(client: TestClient) -> None:
    """R-INT-1: the referrer recorded is the credential's agency, not what the body claims."""
    claimed = {
        **YAMADA,
        "referral": {
            **YAMADA["referral"],
            "referrer_agency_id": SELF_RELIANCE_AGENCY,
            "referrer_kind": "self_reliance_consultation",
        },
    }
    case_id = refer(client, claimed, CENTER)["case_id"]
    listed = ok(client.get("/cases", headers=as_(COORDINATOR)))["items"]
    row = next(r for r in listed if r["case_id"] == case_id)
    assert (row["referrer_agency_id"], row["referrer_kind"]) == (
        CENTER_AGENCY,
        "community_general_support_center",
    )


def test_unencodable_text_is_refused_not_a_server_error(client: TestClient) -> None:
    """A lone surrogate cannot be stored: 422, and nothing is written."""
    case_id: str = refer(client, YAMADA, CENTER)["case_id"]
    body = '{"kind": "explanation", "on": "2026-04-02", "note": "\\ud800"}'
    response = client.post(
        f"/cases/{case_id}/explanations",
        content=body,
        headers={**as_(COORDINATOR), "Content-Type": "application/json"},
    )
    problem(response, 422, "validation_failed")
    assert ok(client.get(f"/cases/{case_id}", headers=as_(COORDINATOR)))["version"] == 1


def test_huge_offsets_and_cursors_are_refused(client: TestClient) -> None:
    """Offsets and feed cursors beyond 64 bits answer 422, not 500."""
    huge = str(2**63)
    for path, params in (
        ("/cases", {"offset": huge}),
        ("/meetings", {"offset": huge}),
        ("/events", {"after": huge}),
    ):
        problem(client.get(path, params=params, headers=as_(COORDINATOR)), 422, "validation_failed")


def test_idempotent_replay_is_not_served_to_another_role(client: TestClient) -> None:
    """A replay never hands a command's answer to a role that may not issue it: an auditor key of
    the coordinator's own agency reusing the coordinator's Idempotency-Key gets no replay."""
    engine = client.app.state.kasane.engine  # type: ignore[attr-defined]
    auditor = Actor("demo-city", "demo-coordinator", Role.auditor)
    _, auditor_key = create_api_key(engine, "same agency, auditor", auditor)
    body = YAMADA
    first = client.post("/cases", json=body, headers={**as_(COORDINATOR), "Idempotency-Key": "k1"})
    ok(first, 201)
    reused = client.post("/cases", json=body, headers={**as_(auditor_key), "Idempotency-Key": "k1"})
    assert reused.headers.get("Idempotent-Replayed") is None
    assert reused.status_code in (403, 422), reused.text
    assert reused.json()["code"] in ("role_not_permitted", "idempotency_key_reused")
    assert case_id_of(first) not in reused.text


def case_id_of(response: object) -> str:
    """Return the case id of a command's answer."""
    case_id: str = response.json()["case_id"]  # type: ignore[attr-defined]
    return case_id


def test_a_busy_database_answers_503_with_retry_after(client: TestClient) -> None:
    """A statement timeout or lock wait is not a server fault: 503, Retry-After, nothing saved."""
    from sqlalchemy.exc import OperationalError

    case_id: str = refer(client, YAMADA, CENTER)["case_id"]
    app = client.app.state.kasane  # type: ignore[attr-defined]

    def cancelled(*args: object, **kwargs: object) -> None:
        raise OperationalError("UPDATE …", {}, Exception("canceling statement due to timeout"))

    original = app._commit
    app._commit = cancelled
    try:
        response = post(client, COORDINATOR, f"/cases/{case_id}/council-referral", {"reason": "x"})
    finally:
        app._commit = original
    problem(response, 503, "database_unavailable")  # no driver code to tell more
    assert int(response.headers["Retry-After"]) >= 1
    assert ok(client.get(f"/cases/{case_id}", headers=as_(COORDINATOR)))["version"] == 1
