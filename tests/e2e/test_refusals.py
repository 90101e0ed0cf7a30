"""Refusals over HTTP: every one is a problem+json document with a stable code, and a refused
command writes nothing (the case's version and history stay as they were).
"""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from tests.e2e.support import (
    AUDITOR,
    CENTER,
    CENTER_AGENCY,
    CITY,
    COORDINATOR,
    COORDINATOR_AGENCY,
    MANDATORY,
    OUTREACH_AGENCY,
    SATO,
    SIMPLE_ROLES,
    SUZUKI,
    YAMADA,
    as_,
    case,
    case_in_planning,
    case_in_support,
    consent,
    draft_plan,
    events,
    hold_meeting,
    item,
    layered_meeting,
    meeting_body,
    ok,
    participant,
    plan_body,
    post,
    problem,
    refer,
)


def unchanged(client: TestClient, case_id: str, version: int) -> None:
    """Assert the case is still at `version` in the read model and in the event store."""
    assert case(client, case_id)["version"] == version
    assert [e["version"] for e in events(client, case_id)] == list(range(1, version + 1))


def test_R_INT_2_R_CON_1_assessment_without_consent_is_refused(client: TestClient) -> None:
    """R-INT-2, R-CON-1: no assessment before the person's application for use."""
    case_id = refer(client, SATO)["case_id"]
    body = problem(
        post(client, COORDINATOR, f"/cases/{case_id}/assessment-start", {}), 409, "consent_required"
    )
    assert "R-INT-2" in body["rules"]
    assert body["type"].endswith("/consent_required")
    unchanged(client, case_id, 1)
    # a sharing consent of a household member is not the person's application (R-CON-5)
    consent(client, case_id, [CENTER_AGENCY], person_id="member-2", application_for_use=False)
    problem(
        post(client, COORDINATOR, f"/cases/{case_id}/assessment-start", {}), 409, "consent_required"
    )
    problem(
        post(
            client,
            COORDINATOR,
            f"/cases/{case_id}/consents",
            {
                "person_id": "member-1",
                "application_for_use": True,
                "given_by": "person",
                "given_on": "2026-04-03",
            },
        ),
        409,
        "application_must_be_by_main_person",
    )
    unchanged(client, case_id, 2)


def test_R_CON_2_council_referral_of_a_consented_case_is_refused(client: TestClient) -> None:
    """R-CON-2: the support-council track is for cases without consent."""
    case_id = refer(client, SATO)["case_id"]
    consent(client, case_id, [CENTER_AGENCY])
    problem(
        post(client, CITY, f"/cases/{case_id}/council-referral", {"reason": "念のため"}),
        409,
        "consent_already_given",
    )
    unchanged(client, case_id, 2)


def test_R_MTG_5_closure_from_planning_is_not_allowed(client: TestClient) -> None:
    """R-MTG-5, R-END-1: a case in planning cannot be closed; the answer lists what it can do."""
    case_id = case_in_planning(client)
    conference = hold_meeting(client, meeting_body([], kind="case_conference"))
    body = problem(
        post(
            client,
            COORDINATOR,
            f"/cases/{case_id}/closure",
            {
                "meeting_id": conference,
                "lead_agency_id": CENTER_AGENCY,
                "follow_up": {"needed": False},
            },
        ),
        409,
        "command_not_allowed",
    )
    assert "draft_plan" in body["allowed_commands"]
    assert "close_case" not in body["allowed_commands"]
    unchanged(client, case_id, 4)


def test_R_MTG_6_plan_approval_at_a_case_conference_is_refused(client: TestClient) -> None:
    """R-MTG-6, R-MTG-5: a case conference does not count as the plan meeting (A)."""
    case_id = case_in_planning(client)
    draft_plan(client, case_id, plan_body(SIMPLE_ROLES))
    conference = hold_meeting(
        client,
        meeting_body([item(case_id, "none", None, "noted")], kind="case_conference"),
    )
    body = problem(
        post(client, COORDINATOR, f"/cases/{case_id}/plan-approval", {"meeting_id": conference}),
        409,
        "meeting_not_layered_support_meeting",
    )
    assert "R-MTG-6" in body["rules"]
    # a case conference cannot even be recorded at one of the four timings
    problem(
        post(
            client,
            COORDINATOR,
            "/meetings",
            meeting_body([item(case_id, "plan", 1)], kind="case_conference"),
        ),
        422,
        "timing_requires_layered_support_meeting",
    )
    unchanged(client, case_id, 5)


@pytest.mark.parametrize(
    ("timing", "plan_version", "outcome", "drafts"),
    [("replan", 1, "approved", 1), ("plan", 1, "approved", 2), ("plan", 1, "deferred", 1)],
)
def test_R_MTG_5_R_MTG_7_plan_approval_needs_this_plan_approved_at_timing_A(
    client: TestClient, timing: str, plan_version: int, outcome: str, drafts: int
) -> None:
    """R-MTG-5, R-MTG-7: the meeting's own item must approve the draft in hand at timing A."""
    case_id = case_in_planning(client)
    for _ in range(drafts):
        draft_plan(client, case_id, plan_body(SIMPLE_ROLES))
    meeting_id = hold_meeting(client, meeting_body([item(case_id, timing, plan_version, outcome)]))
    problem(
        post(client, COORDINATOR, f"/cases/{case_id}/plan-approval", {"meeting_id": meeting_id}),
        409,
        "meeting_gate_not_met",
    )
    unchanged(client, case_id, 4 + drafts)


def test_R_MTG_5_a_meeting_cannot_decide_a_plan_version_not_yet_drafted(
    client: TestClient,
) -> None:
    """R-MTG-5: the meeting judges a plan that exists: plan v2 of a one-draft case is refused."""
    case_id = case_in_planning(client)
    draft_plan(client, case_id, plan_body(SIMPLE_ROLES))
    problem(
        post(client, COORDINATOR, "/meetings", meeting_body([item(case_id, "plan", 2)])),
        422,
        "plan_version_unknown",
    )
    assert ok(client.get("/meetings", headers=as_(COORDINATOR)))["total"] == 0


def test_R_MTG_7_one_meeting_decides_each_case_on_its_own(client: TestClient) -> None:
    """R-MTG-7: at one regular meeting case 1 is approved and case 2 deferred."""
    first = case_in_planning(client, SATO)
    second = case_in_planning(client, YAMADA)
    draft_plan(client, first, plan_body(SIMPLE_ROLES))
    draft_plan(client, second, plan_body(SIMPLE_ROLES))
    meeting_id = hold_meeting(
        client,
        meeting_body(
            [item(first, "plan", 1), item(second, "plan", 1, "deferred")],
            title="第3回重層的支援会議",
        ),
    )
    approved = ok(
        post(client, COORDINATOR, f"/cases/{first}/plan-approval", {"meeting_id": meeting_id})
    )
    assert approved["state"] == "in_support"  # no outreach/participation: no decision needed
    problem(
        post(client, COORDINATOR, f"/cases/{second}/plan-approval", {"meeting_id": meeting_id}),
        409,
        "meeting_gate_not_met",
    )
    problem(
        post(
            client,
            COORDINATOR,
            "/meetings",
            meeting_body([item(first, "none", None, "noted"), item(first, "none", None, "noted")]),
        ),
        422,
        "duplicate_agenda_item",
    )


@pytest.mark.parametrize(
    "participants",
    [
        pytest.param([participant(COORDINATOR_AGENCY, "coordinator")], id="municipality_absent"),
        pytest.param(
            [
                participant(COORDINATOR_AGENCY, "coordinator"),
                participant("demo-city-welfare", "municipality", attended=False),
            ],
            id="municipality_invited_not_attended",
        ),
        pytest.param([participant("demo-city-welfare", "municipality")], id="coordinator_absent"),
    ],
)
def test_R_MTG_2_layered_meeting_without_mandatory_participants_is_refused(
    client: TestClient, participants: list[dict[str, object]]
) -> None:
    """R-MTG-2: the coordinator and the municipality attend every layered support meeting."""
    case_id = case_in_planning(client)
    body = problem(
        post(
            client,
            COORDINATOR,
            "/meetings",
            meeting_body([item(case_id, "none", None, "noted")], participants=participants),
        ),
        422,
        "meeting_missing_mandatory_participants",
    )
    assert body["rules"] == ["R-MTG-2"]
    assert ok(client.get("/meetings", headers=as_(COORDINATOR)))["total"] == 0


def test_R_MTG_1_layered_meeting_recorded_by_the_municipality_is_refused(
    client: TestClient,
) -> None:
    """R-MTG-1: the coordinator hosts the layered support meeting."""
    case_id = case_in_planning(client)
    problem(
        post(client, CITY, "/meetings", meeting_body([item(case_id, "none", None, "noted")])),
        422,
        "meeting_host_must_be_coordinator",
    )
    problem(
        post(client, CENTER, "/meetings", meeting_body([], participants=MANDATORY)),
        403,
        "role_not_permitted",
    )
    assert ok(client.get("/meetings", headers=as_(CITY)))["total"] == 0


def awaiting_decision(client: TestClient) -> str:
    """鈴木ケン's plan v1 with participation support, approved at meeting A."""
    case_id = case_in_planning(client, SUZUKI)
    draft_plan(client, case_id, plan_body(SIMPLE_ROLES, ["participation"]))
    meeting_id = layered_meeting(client, case_id, "plan", 1)
    answer = ok(
        post(client, COORDINATOR, f"/cases/{case_id}/plan-approval", {"meeting_id": meeting_id})
    )
    assert (answer["state"], answer["version"]) == ("awaiting_decision", 6)
    return case_id


def test_R_DEC_1_support_decision_by_the_coordinator_is_refused(client: TestClient) -> None:
    """R-DEC-1, R-ORG-1: only the municipality decides; the role table refuses first (403)."""
    case_id = awaiting_decision(client)
    body = problem(
        post(
            client,
            COORDINATOR,
            f"/cases/{case_id}/support-decisions",
            {"granted": True, "decided_on": "2026-05-12"},
        ),
        403,
        "role_not_permitted",
    )
    assert body["rules"] == ["R-ORG-1"]
    unchanged(client, case_id, 6)
    assert case(client, case_id)["current_plan"] is None


def test_R_DEC_2_refusal_needs_a_reason_and_sends_the_plan_back(client: TestClient) -> None:
    """R-DEC-2: a refused decision carries its reason; the coordinator revises the plan."""
    case_id = awaiting_decision(client)
    decision = {"granted": False, "decided_on": "2026-05-12"}
    body = problem(
        post(client, CITY, f"/cases/{case_id}/support-decisions", decision),
        409,
        "refusal_reason_required",
    )
    assert body["rules"] == ["R-DEC-2"]
    unchanged(client, case_id, 6)

    reason = "参加支援の受け入れ先が未確定"
    refused = ok(
        post(client, CITY, f"/cases/{case_id}/support-decisions", {**decision, "reason": reason})
    )
    assert (refused["state"], refused["version"]) == ("planning", 7)
    detail = case(client, case_id)
    assert detail["current_plan"] is None
    assert detail["plans"][0]["status"] == "refused"
    assert detail["plans"][0]["decision"]["reason"] == reason
    assert (
        draft_plan(client, case_id, plan_body(SIMPLE_ROLES, ["participation"]))["plan_version"] == 2
    )


def test_version_conflict_by_body_and_by_if_match_writes_nothing(client: TestClient) -> None:
    """A stale expected version is refused (409 by body, 412 by If-Match); nothing half-written."""
    case_id = case_in_planning(client)  # version 4
    plan = plan_body(SIMPLE_ROLES)
    body = problem(
        post(client, COORDINATOR, f"/cases/{case_id}/plans", {**plan, "expected_version": 3}),
        409,
        "version_conflict",
    )
    assert "version 4" in body["detail"]
    unchanged(client, case_id, 4)
    problem(
        post(client, COORDINATOR, f"/cases/{case_id}/plans", plan, **{"If-Match": '"3"'}),
        412,
        "version_conflict",
    )
    unchanged(client, case_id, 4)
    assert case(client, case_id)["plans"] == []

    # the current version, either way, is accepted
    etag = client.get(f"/cases/{case_id}", headers=as_(COORDINATOR)).headers["ETag"]
    assert etag == '"4"'
    answer = ok(post(client, COORDINATOR, f"/cases/{case_id}/plans", plan, **{"If-Match": etag}))
    assert answer["version"] == 5
    answer = ok(
        post(client, COORDINATOR, f"/cases/{case_id}/plans", {**plan, "expected_version": 5})
    )
    assert answer["version"] == 6


def test_unknown_body_field_is_refused(client: TestClient) -> None:
    """Unknown fields are refused (no mass assignment), e.g. an attempt to set the state."""
    case_id = case_in_planning(client)
    body = problem(
        post(
            client,
            COORDINATOR,
            f"/cases/{case_id}/plans",
            {**plan_body(SIMPLE_ROLES), "state": "in_support"},
        ),
        422,
        "validation_failed",
    )
    assert any(e["loc"][-1] == "state" for e in body["errors"])
    problem(
        post(client, CENTER, "/cases", {**SATO, "municipality_id": "x"}), 422, "validation_failed"
    )
    unchanged(client, case_id, 4)


@pytest.mark.parametrize("key", [None, "no-such-key"])
def test_request_without_a_valid_api_key_is_unauthenticated(
    client: TestClient, key: str | None
) -> None:
    """Every endpoint needs a known credential: a bearer token or an X-API-Key."""
    case_id = refer(client, SATO)["case_id"]
    for response in (
        client.get("/cases", headers=as_(key)),
        client.get(f"/cases/{case_id}", headers=as_(key)),
        post(client, key, "/cases", SATO),
        post(client, key, f"/cases/{case_id}/assessment-start", {}),
    ):
        problem(response, 401, "unauthenticated")
        assert response.headers["WWW-Authenticate"] == 'Bearer, ApiKey header="X-API-Key"'
    assert ok(client.get("/cases", headers=as_(COORDINATOR)))["total"] == 1
    unchanged(client, case_id, 1)


@pytest.mark.parametrize("case_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_case_is_not_found(client: TestClient, case_id: str) -> None:
    """An unknown case id answers 404 not_found on reads and commands."""
    problem(client.get(f"/cases/{case_id}", headers=as_(COORDINATOR)), 404, "not_found")
    problem(client.get(f"/cases/{case_id}/events", headers=as_(COORDINATOR)), 404, "not_found")
    problem(post(client, COORDINATOR, f"/cases/{case_id}/assessment-start", {}), 404, "not_found")
    problem(
        post(
            client,
            COORDINATOR,
            "/meetings",
            meeting_body([item(case_id, "none", None, "noted")], kind="case_conference"),
        ),
        404,
        "not_found",
    )


def test_R_ORG_1_auditor_reads_but_cannot_command(client: TestClient) -> None:
    """R-ORG-1: the auditor reads the case but every command answers 403 role_not_permitted."""
    case_id = refer(client, SATO)["case_id"]
    assert case(client, case_id, AUDITOR)["state"] == "referred"
    for command, body in [
        ("assessment-start", {}),
        ("council-referral", {"reason": "監査"}),
        ("contact-attempts", {"kind": "phone", "on": "2026-04-10", "reached": True}),
    ]:
        problem(
            post(client, AUDITOR, f"/cases/{case_id}/{command}", body), 403, "role_not_permitted"
        )
    problem(post(client, AUDITOR, "/cases", SATO), 403, "role_not_permitted")
    problem(post(client, AUDITOR, "/meetings", meeting_body([])), 403, "role_not_permitted")
    unchanged(client, case_id, 1)
    assert ok(client.get("/cases", headers=as_(AUDITOR)))["total"] == 1


def test_R_END_2_R_END_3_closure_needs_a_lead_agency_of_the_plan_and_a_proper_hand_back(
    client: TestClient,
) -> None:
    """R-END-2, R-END-3, R-MTG-5 (C): the lead agency comes from the plan's roles; the hand-back
    goes to a comprehensive consultation provider; the meeting approved closure of this plan.
    """
    case_id = case_in_support(client, SATO)  # plan v1, version 6
    closure_meeting = layered_meeting(client, case_id, "closure", 1)
    closure = {
        "meeting_id": closure_meeting,
        "lead_agency_id": CENTER_AGENCY,
        "follow_up": {"needed": True, "method": "半年ごとの電話"},
    }
    url = f"/cases/{case_id}/closure"
    problem(
        post(client, COORDINATOR, url, {**closure, "lead_agency_id": OUTREACH_AGENCY}),
        409,
        "lead_agency_not_in_plan",
    )
    problem(
        post(
            client,
            COORDINATOR,
            url,
            {
                **closure,
                "hand_back": {"agency_id": OUTREACH_AGENCY, "agency_kind": "outreach_provider"},
            },
        ),
        409,
        "hand_back_not_to_comprehensive_consultation",
    )
    replan_meeting = layered_meeting(client, case_id, "replan", 1)
    problem(
        post(client, COORDINATOR, url, {**closure, "meeting_id": replan_meeting}),
        409,
        "meeting_gate_not_met",
    )
    unchanged(client, case_id, 6)
    closed = ok(post(client, COORDINATOR, url, closure))
    assert (closed["state"], closed["version"]) == ("closed", 7)
    assert case(client, case_id)["lead_agency_id"] == CENTER_AGENCY
