"""Outreach and participation support over HTTP (R-OUT-1..4, R-PAR-1..5, R-DEC-3, R-SUS-2).

The cases are those of EXAMPLES.md: the council-only couple and 山田 8050 for outreach, 鈴木ケン for
participation support and lost contact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from service.domain.values import Role
from service.persistence.tables import access_log, worklist_items
from tests.e2e.support import (
    AUDITOR,
    CENTER,
    CENTER_AGENCY,
    CITY,
    COORDINATOR,
    HOARDING_COUPLE,
    MANDATORY,
    SELF_RELIANCE_AGENCY,
    SIMPLE_ROLES,
    SUZUKI,
    YAMADA,
    as_,
    case,
    case_in_support,
    consent,
    engagement,
    engagement_path,
    hold_meeting,
    item,
    layered_meeting,
    meeting_body,
    ok,
    participant,
    post,
    problem,
    refer,
    service_item,
    start_assessment,
    start_engagement,
)

MakeKey = Callable[[str, Role], str]
SECRET_NOTE = "タロウさんは夜だけ台所に来る（秘匿テスト用）"
# the agencies of the provider keys below (tests/conftest.py make_api_key)
OUTREACH_PROVIDER = "demo-city-outreach_provider"
PARTICIPATION_PROVIDER = "demo-city-participation_provider"
# a plan using the services names their providers in its roles (R-PLN-1 役割分担)
PROVIDER_ROLES = [
    *SIMPLE_ROLES,
    (OUTREACH_PROVIDER, "outreach_provider", "家庭訪問"),
    (PARTICIPATION_PROVIDER, "participation_provider", "参加支援"),
]


@pytest.fixture
def outreach_key(make_api_key: MakeKey) -> str:
    """An outreach provider of demo-city (agency demo-city-outreach_provider)."""
    return make_api_key("demo-city", Role.outreach_provider)


@pytest.fixture
def participation_key(make_api_key: MakeKey) -> str:
    """A participation provider of demo-city (agency demo-city-participation_provider)."""
    return make_api_key("demo-city", Role.participation_provider)


def visit(key: str, client: TestClient, case_id: str, **extra: object) -> dict:
    """Record a home visit without contact (R-OUT-2); return the answer."""
    body = {
        "kind": "home_visit",
        "on": "2026-04-12",
        "outcome": "no_response",
        "contact_made": False,
        **extra,
    }
    return ok(post(client, key, engagement_path(case_id, "outreach", "activities"), body))


def approve(client: TestClient, key: str, case_id: str, service: str, meeting_id: str) -> dict:
    """Adopt the service's draft plan at its meeting."""
    path = engagement_path(case_id, service, "plan-approval")
    return ok(post(client, key, path, {"meeting_id": meeting_id}))


PLAN = {
    "goals": ["本人と会える関係をつくる"],
    "policy": "月2回の家庭訪問と手紙",
    "roles": [{"party": "provider", "role": "家庭訪問"}],
    "monitoring_dates": ["2026-07-15", "2026-09-15"],
}


# --- outreach -----------------------------------------------------------------------------------


def test_R_OUT_3_council_only_couple_outreach_records_only_facts(
    client: TestClient, outreach_key: str
) -> None:
    """R-OUT-3, R-DEC-3, R-CON-2: on the council track outreach starts early before consent;
    its activities are structured facts, notes are refused, and its plan cannot go to a layered
    support meeting without consent."""
    case_id = refer(client, HOARDING_COUPLE)["case_id"]
    ok(post(client, CITY, f"/cases/{case_id}/council-referral", {"reason": "接触を拒否"}))
    # the support council that takes the case, with the outreach provider (R-CON-2, R-ORG-1)
    council = meeting_body(
        [item(case_id, "none", None, "noted")],
        kind="support_council",
        participants=[*MANDATORY, participant(OUTREACH_PROVIDER, "outreach_provider")],
        title="支援会議",
    )
    hold_meeting(client, council, key=CITY)
    started = start_engagement(client, outreach_key, case_id, "outreach")
    assert started["state"] == "reaching_out"
    assert started["case_version"] == 3
    # recorded on the council track: the council's members see it, the general support center
    # (no consent, no council seat) does not (R-OUT-3)
    assert case(client, case_id, CITY)["early_starts"][0]["service"] == "outreach"
    assert case(client, case_id)["early_starts"][0]["service"] == "outreach"
    assert case(client, case_id, CENTER)["early_starts"] == []

    refusal = problem(
        post(
            client,
            outreach_key,
            engagement_path(case_id, "outreach", "activities"),
            {
                "kind": "information_gathering",
                "on": "2026-04-11",
                "outcome": "information_obtained",
                "contact_made": False,
                "notes": "民生委員によると夜間に物音",
            },
        ),
        409,
        "record_exceeds_council_track",
    )
    assert refusal["rules"] == ["R-OUT-3", "R-CON-2"]
    assert refusal["title"] == "要件を満たしていません"
    answer = visit(outreach_key, client, case_id)
    assert answer["activity_id"] == "activity-1"
    assert answer["version"] == 2

    ok(post(client, outreach_key, engagement_path(case_id, "outreach", "plans"), PLAN))
    # the draft awaits a meeting from the day it was drafted (R-OUT-4): the coordinators see it
    today = client.app.state.kasane.clock.today().isoformat()  # type: ignore[attr-defined]
    mine = ok(client.get("/worklists/mine", headers=as_(COORDINATOR)))["items"]
    assert [(i["kind"], i["due_on"]) for i in mine if i["case_id"] == case_id] == [
        ("plan_meeting", today)
    ]
    agenda = [service_item(case_id, "outreach", "plan", 1)]
    problem(
        post(client, COORDINATOR, "/meetings", meeting_body(agenda)), 422, "case_without_consent"
    )
    detail = engagement(client, case_id, "outreach", CITY)
    assert detail["start"]["pre_consent"] is True
    assert detail["activities"][0]["before_consent"] is True
    assert engagement(client, case_id, "outreach")["activities"][0]["before_consent"] is True
    # the center holds no council seat and no consent covers it: the council track's records
    # stay with the council's side (R-OUT-3, R-CON-2)
    assert engagement(client, case_id, "outreach", CENTER)["activities"] == []


def test_R_OUT_4_yamada_outreach_plan_at_its_own_agenda_item(
    client: TestClient, outreach_key: str
) -> None:
    """R-OUT-4, R-MTG-5, R-MTG-7: 山田 8050 — outreach started early in assessment; one meeting
    takes the case's plan and the outreach plan as two items; each is adopted on its own."""
    case_id = refer(client, YAMADA)["case_id"]
    consent(client, case_id, [CENTER_AGENCY, SELF_RELIANCE_AGENCY, OUTREACH_PROVIDER])
    start_assessment(client, case_id)
    start_engagement(client, COORDINATOR, case_id, "outreach", reason="長男が20年ひきこもり")
    for on in ("2026-04-12", "2026-04-19", "2026-04-26"):
        visit(outreach_key, client, case_id, on=on)
    ok(post(client, outreach_key, engagement_path(case_id, "outreach", "plans"), PLAN))

    wrong_version = [service_item(case_id, "outreach", "plan", 2)]
    problem(
        post(client, COORDINATOR, "/meetings", meeting_body(wrong_version)),
        422,
        "plan_version_unknown",
    )
    duplicate = [service_item(case_id, "outreach", "plan", 1)] * 2
    problem(
        post(client, COORDINATOR, "/meetings", meeting_body(duplicate)),
        422,
        "duplicate_agenda_item",
    )
    conference = hold_meeting(
        client, meeting_body([item(case_id, "none", None, "noted")], kind="case_conference")
    )
    deferred = hold_meeting(
        client, meeting_body([service_item(case_id, "outreach", "plan", 1, "deferred")])
    )
    for meeting_id, code in (
        (conference, "meeting_not_layered_support_meeting"),
        (deferred, "meeting_gate_not_met"),
    ):
        problem(
            post(
                client,
                outreach_key,
                engagement_path(case_id, "outreach", "plan-approval"),
                {"meeting_id": meeting_id},
            ),
            409,
            code,
        )
    meeting_a = hold_meeting(
        client, meeting_body([service_item(case_id, "outreach", "plan", 1)], held_on="2026-05-10")
    )
    answer = approve(client, outreach_key, case_id, "outreach", meeting_a)
    assert (answer["state"], answer["plan_version"]) == ("in_support", 1)
    problem(
        post(
            client,
            outreach_key,
            engagement_path(case_id, "outreach", "replan-approval"),
            {"meeting_id": meeting_a},
        ),
        409,
        "command_not_allowed",
    )
    meeting = ok(client.get(f"/meetings/{meeting_a}", headers=as_(COORDINATOR)))
    assert meeting["agenda"][0]["service"] == "outreach"
    assert meeting_a in [m["meeting_id"] for m in case(client, case_id)["meetings"]]
    # R-MTG-7: the case's own row does not read as a decision on the case's plan v1
    [row] = [m for m in case(client, case_id)["meetings"] if m["meeting_id"] == meeting_a]
    assert (row["timing"], row["plan_version"], row["outcome"]) == ("none", None, "noted")


def test_R_OUT_3_notes_are_personal_data(
    client: TestClient, outreach_key: str, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """R-OUT-3, R-CON-4, R-ORG-2: notes after consent are sealed at rest, shown to readers with
    a basis (access-logged), redacted for the others, and never logged."""
    caplog.set_level(logging.DEBUG)
    case_id = refer(client, YAMADA)["case_id"]
    consent(client, case_id, [CENTER_AGENCY, OUTREACH_PROVIDER])
    start_assessment(client, case_id)
    start_engagement(client, COORDINATOR, case_id, "outreach")
    visit(outreach_key, client, case_id, notes=SECRET_NOTE, contact_made=True, outcome="met")
    # notes about the son need his own consent (R-CON-5)
    problem(
        post(
            client,
            outreach_key,
            engagement_path(case_id, "outreach", "activities"),
            {
                "kind": "home_visit",
                "on": "2026-04-13",
                "outcome": "talked_through_door",
                "contact_made": True,
                "person_id": "member-1",
                "notes": "ドア越しに返事",
            },
        ),
        409,
        "record_exceeds_council_track",
    )

    assert engagement(client, case_id, "outreach")["activities"][0]["notes"] == SECRET_NOTE
    assert engagement(client, case_id, "outreach", CENTER)["activities"][0]["notes"] == SECRET_NOTE
    hidden = engagement(client, case_id, "outreach", AUDITOR)["activities"][0]["notes"]
    assert hidden == {
        "person_id": "person",
        "redacted": True,
        "redaction_reason": "no_consent_covering_agency",
    }
    listed = ok(client.get(f"/cases/{case_id}/engagements", headers=as_(AUDITOR)))
    assert SECRET_NOTE not in str(listed)
    history_path = engagement_path(case_id, "outreach", "events")
    history = ok(client.get(history_path, headers=as_(CENTER)))
    assert [(e["type"], e["label"]) for e in history] == [
        ("EngagementStarted", "支援の開始"),
        ("ActivityRecorded", "アウトリーチ活動の記録"),
    ]
    assert history[1]["payload"]["activity"]["notes"] == SECRET_NOTE
    audited = ok(client.get(history_path, headers=as_(AUDITOR)))
    assert audited[1]["payload"]["activity"]["notes"]["redacted"] is True
    assert SECRET_NOTE not in str(audited)
    with engine.connect() as conn:
        readers = conn.execute(
            select(access_log.c.agency_id, access_log.c.fields).where(
                access_log.c.case_id == case_id, access_log.c.fields.like("%.notes%")
            )
        ).all()
        stored = conn.execute(text("SELECT state FROM kasane_events")).scalars().all()
    assert {r.agency_id for r in readers} == {"demo-coordinator", CENTER_AGENCY}
    assert not any(SECRET_NOTE.encode() in bytes(s) for s in stored)
    assert not any(SECRET_NOTE in r.getMessage() for r in caplog.records)


# --- R-SUS-2: outreach attempts count for the case's suspension -------------------------------


def test_R_SUS_2_outreach_visits_let_the_case_be_suspended(
    client: TestClient, outreach_key: str
) -> None:
    """R-SUS-2, R-SUS-1: 鈴木ケン's case has no contact attempts of its own; the outreach home
    visits without contact count, so the suspension meeting D can suspend the case."""
    case_id = case_in_support(client, SUZUKI, ["outreach"], roles=PROVIDER_ROLES)
    start_engagement(client, outreach_key, case_id, "outreach", basis="support_decision")
    meeting_d = layered_meeting(client, case_id, "suspension", 1, held_on="2026-09-01")
    body = {"meeting_id": meeting_d, "reason": "連絡が完全に途絶"}
    problem(
        post(client, COORDINATOR, f"/cases/{case_id}/suspension", body),
        409,
        "contact_attempts_required",
    )
    visit(outreach_key, client, case_id, on="2026-07-20")
    # a contact the case recorded after that visit: the visit no longer counts
    ok(
        post(
            client,
            COORDINATOR,
            f"/cases/{case_id}/contact-attempts",
            {"kind": "phone", "on": "2026-07-25", "reached": True},
        )
    )
    problem(
        post(client, COORDINATOR, f"/cases/{case_id}/suspension", body),
        409,
        "contact_attempts_required",
    )
    visit(outreach_key, client, case_id, on="2026-08-01")
    ok(
        post(
            client,
            outreach_key,
            engagement_path(case_id, "outreach", "activities"),
            {
                "kind": "information_gathering",
                "on": "2026-08-05",
                "outcome": "no_response",
                "contact_made": False,
            },
        )
    )
    assert (
        ok(post(client, COORDINATOR, f"/cases/{case_id}/suspension", body))["state"] == "suspended"
    )


# --- starting -------------------------------------------------------------------------------------


def test_R_PAR_1_starting_refusals(
    client: TestClient, outreach_key: str, participation_key: str
) -> None:
    """R-PAR-1, R-DEC-1, R-ORG-1: no decision → support_decision_required; twice →
    engagement_already_started; the outreach provider cannot start participation support."""
    case_id = case_in_support(client, SUZUKI, ["outreach"], roles=PROVIDER_ROLES)
    path = engagement_path(case_id, "participation", "start")
    decided = {"basis": "support_decision", "reason": "", "started_on": "2026-06-01"}
    problem(post(client, participation_key, path, decided), 409, "support_decision_required")
    problem(post(client, outreach_key, path, decided), 403, "role_not_permitted")
    start_engagement(client, outreach_key, case_id, "outreach", basis="support_decision")
    again = post(client, outreach_key, engagement_path(case_id, "outreach", "start"), decided)
    problem(again, 409, "engagement_already_started")
    problem(
        client.get(engagement_path(case_id, "participation"), headers=as_(COORDINATOR)),
        404,
        "not_found",
    )
    listed = ok(client.get("/engagements?service=outreach", headers=as_(AUDITOR)))
    assert [e["case_id"] for e in listed["items"]] == [case_id]
    assert listed["items"][0]["state_label"] == "アウトリーチ（プラン作成前）"


# --- participation ----------------------------------------------------------------------------


def test_R_PAR_2_to_R_PAR_5_suzuki_participation_from_start_to_periodic_contact(
    client: TestClient, participation_key: str, engine: Engine
) -> None:
    """R-PAR-2..5: intake, assessment, plan at meeting A, matching to a registered host,
    settling-in and follow-ups, actual-cost payments, closure at meeting C once the connection is
    stable, and periodic contact after closure with its due date on the worklist."""
    key = participation_key
    case_id = case_in_support(client, SUZUKI, ["participation"], roles=PROVIDER_ROLES)
    start_engagement(client, key, case_id, "participation", basis="support_decision")

    def send(command: str, body: dict) -> dict:
        return ok(post(client, key, engagement_path(case_id, "participation", command), body))

    def refuse(command: str, body: dict, code: str) -> None:
        problem(
            post(client, key, engagement_path(case_id, "participation", command), body), 409, code
        )

    refuse("assessments", {"on": "2026-06-20"}, "intake_required")
    send("intake", {"on": "2026-06-16", "concerns": ["仕事", "住まい"], "notes": "早起きが苦手"})
    assert send("assessments", {"on": "2026-06-20"})["state"] == "planning"
    plan = {**PLAN, "goals": ["週3日の就労体験"], "roles": [{"party": "host", "role": "受け入れ"}]}
    assert send("plans", plan)["plan_version"] == 1
    meeting_a = hold_meeting(
        client,
        meeting_body(
            [
                item(case_id, "none", None, "noted"),
                service_item(case_id, "participation", "plan", 1),
            ],
            participants=[
                *MANDATORY,
                participant("demo-city-participation_provider", "participation_provider"),
            ],
        ),
    )
    assert approve(client, key, case_id, "participation", meeting_a)["state"] == "matching"

    match = {"host_id": "not-registered", "menu": "農作業の就労体験", "starts_on": "2026-07-01"}
    refuse("matches", match, "host_not_registered")
    host = ok(
        post(
            client,
            CITY,
            "/hosts",
            {"name": "朝日ファーム", "kind": "work_experience", "capacity": 2},
        ),
        201,
    )["host_id"]
    assert send("matches", {**match, "host_id": host})["state"] == "settling_in"
    send("settling-in", {"on": "2026-07-02", "party": "person"})
    send("settling-in", {"on": "2026-07-03", "party": "host"})
    send("follow-ups", {"on": "2026-07-15", "party": "person", "contact_made": True})
    payment = {
        "host_id": host,
        "amount_yen": 12000,
        "period_from": "2026-07-01",
        "period_to": "2026-07-31",
        "purpose": "受け入れに要した実費",
        "paid_on": "2026-08-10",
    }
    send("payments", payment)
    refuse("payments", {**payment, "amount_yen": 0}, "invalid_payment_amount")
    refuse("payments", {**payment, "host_id": "other-host"}, "host_not_matched")

    meeting_c = hold_meeting(
        client,
        meeting_body([service_item(case_id, "participation", "closure", 1)], held_on="2026-10-01"),
    )
    closure = {"meeting_id": meeting_c, "evaluation": "定着した", "next_contact_due": "2026-12-01"}
    refuse("closure", closure, "connection_not_stable")
    send("follow-ups", {"on": "2026-09-15", "party": "host", "connection_stable": True})
    refuse("closure", {**closure, "next_contact_due": None}, "next_contact_due_required")
    assert send("closure", closure)["state"] == "closed"
    contact = {"on": "2026-12-01", "contact_made": True, "next_contact_due": "2027-03-01"}
    answer = send("periodic-contacts", contact)
    assert answer["state"] == "closed"
    assert answer["allowed_commands"] == [
        "record_periodic_contact",
        "pay_cost",
        "resume_engagement",
    ]

    detail = engagement(client, case_id, "participation", key)
    assert detail["host_id"] == host
    assert detail["next_contact_due"] == "2027-03-01"
    assert [p["amount_yen"] for p in detail["payments"]] == [12000]
    # the sharing consent does not cover the provider: its own notes come back redacted to it
    assert detail["intakes"][0]["notes"]["redaction_reason"] == "no_consent_covering_agency"
    as_coordinator = engagement(client, case_id, "participation")
    assert as_coordinator["intakes"][0]["notes"] == "早起きが苦手"
    with engine.connect() as conn:
        due = conn.execute(
            select(worklist_items.c.kind, worklist_items.c.due_on).where(
                worklist_items.c.aggregate_id == detail["engagement_id"]
            )
        ).all()
    assert [(k, d.isoformat()) for k, d in due] == [("follow_up", "2027-03-01")]
    mine = ok(client.get("/worklists/mine", headers=as_(key)))["items"]
    assert [(i["kind"], i["due_on"], i["label"]) for i in mine] == [
        ("follow_up", "2027-03-01", "参加支援事業の終結後の定期的な連絡（R-PAR-4）")
    ]


def test_engagement_commands_check_the_expected_version(
    client: TestClient, outreach_key: str
) -> None:
    """A stale engagement version answers 412 (If-Match) and writes nothing."""
    case_id = case_in_support(client, SUZUKI, ["outreach"], roles=PROVIDER_ROLES)
    start_engagement(client, outreach_key, case_id, "outreach", basis="support_decision")
    path = engagement_path(case_id, "outreach", "activities")
    body = {"kind": "home_visit", "on": "2026-07-01", "outcome": "met", "contact_made": True}
    problem(post(client, outreach_key, path, body, **{"If-Match": '"7"'}), 412, "version_conflict")
    assert ok(post(client, outreach_key, path, body, **{"If-Match": '"1"'}))["version"] == 2
    assert engagement(client, case_id, "outreach")["version"] == 2


def test_engagement_views_rebuild_from_the_events(
    client: TestClient, outreach_key: str, engine: Engine
) -> None:
    """The engagement views are read models: rebuilt from zero, they read the same."""
    case_id = case_in_support(client, SUZUKI, ["outreach"], roles=PROVIDER_ROLES)
    start_engagement(client, outreach_key, case_id, "outreach", basis="support_decision")
    visit(outreach_key, client, case_id)
    before = engagement(client, case_id, "outreach")
    app = client.app.state.kasane  # type: ignore[attr-defined]
    app.rebuild_read_models()
    assert engagement(client, case_id, "outreach") == before


def test_R_CON_4_erasure_reaches_the_outreach_notes(client: TestClient, outreach_key: str) -> None:
    """R-CON-4: the notes are sealed with the person's data key, so erasing the person's data
    (crypto-shredding) makes them read as erased while the activity facts stay."""
    case_id = refer(client, YAMADA)["case_id"]
    consent(client, case_id, [CENTER_AGENCY, OUTREACH_PROVIDER])
    start_assessment(client, case_id)
    start_engagement(client, COORDINATOR, case_id, "outreach")
    visit(outreach_key, client, case_id, notes=SECRET_NOTE, contact_made=True, outcome="met")
    erasure = {"person_id": "person", "reason": "保存期間の満了"}
    assert ok(post(client, CITY, f"/cases/{case_id}/erasures", erasure))["erased"] is True
    activity = engagement(client, case_id, "outreach")["activities"][0]
    assert activity["notes"] == {"person_id": "person", "erased": True}
    assert (activity["kind"], activity["outcome"]) == ("home_visit", "met")


def test_R_PAR_1_a_case_with_both_services_lists_both(
    client: TestClient, outreach_key: str, participation_key: str
) -> None:
    """R-PAR-1, R-OUT-4: a plan using both services, decided once, starts each on its own; the
    case lists its engagements, and one meeting adopts both services' plans as two items."""
    case_id = case_in_support(client, SUZUKI, ["outreach", "participation"], roles=PROVIDER_ROLES)
    start_engagement(client, participation_key, case_id, "participation", "support_decision")
    start_engagement(client, outreach_key, case_id, "outreach", "support_decision")
    listed = ok(client.get(f"/cases/{case_id}/engagements", headers=as_(COORDINATOR)))
    assert [(e["service"], e["state"]) for e in listed] == [
        ("outreach", "reaching_out"),
        ("participation", "intake"),
    ]
    ok(post(client, outreach_key, engagement_path(case_id, "outreach", "plans"), PLAN))
    for command, body in (
        ("intake", {"on": "2026-06-16"}),
        ("assessments", {"on": "2026-06-20"}),
        ("plans", PLAN),
    ):
        path = engagement_path(case_id, "participation", command)
        ok(post(client, participation_key, path, body))
    both = [
        service_item(case_id, "outreach", "plan", 1),
        service_item(case_id, "participation", "plan", 1),
    ]
    meeting_id = hold_meeting(client, meeting_body(both, held_on="2026-06-25"))
    assert approve(client, outreach_key, case_id, "outreach", meeting_id)["state"] == "in_support"
    answer = approve(client, participation_key, case_id, "participation", meeting_id)
    assert answer["state"] == "matching"


def test_R_PAR_3_payment_input_errors_are_refused_and_write_nothing(
    client: TestClient, participation_key: str
) -> None:
    """R-PAR-3: an absurd amount is a validation problem (422), a period that ends before it
    starts is refused (`invalid_payment_period`); neither writes an event."""
    key = participation_key
    case_id = case_in_support(client, SUZUKI, ["participation"], roles=PROVIDER_ROLES)
    start_engagement(client, key, case_id, "participation", basis="support_decision")
    for command, body in (
        ("intake", {"on": "2026-06-16"}),
        ("assessments", {"on": "2026-06-20"}),
        ("plans", PLAN),
    ):
        ok(post(client, key, engagement_path(case_id, "participation", command), body))
    meeting_a = hold_meeting(
        client, meeting_body([service_item(case_id, "participation", "plan", 1)])
    )
    approve(client, key, case_id, "participation", meeting_a)
    host = ok(
        post(client, CITY, "/hosts", {"name": "朝日ファーム", "kind": "work_experience"}), 201
    )["host_id"]
    match = {"host_id": host, "menu": "農作業の就労体験", "starts_on": "2026-07-01"}
    version = ok(post(client, key, engagement_path(case_id, "participation", "matches"), match))[
        "version"
    ]
    path = engagement_path(case_id, "participation", "payments")
    payment = {
        "host_id": host,
        "amount_yen": 12000,
        "period_from": "2026-07-01",
        "period_to": "2026-07-31",
        "purpose": "受け入れに要した実費",
        "paid_on": "2026-08-10",
    }
    problem(post(client, key, path, {**payment, "amount_yen": 10**40}), 422, "validation_failed")
    backwards = {**payment, "period_from": "2026-08-01"}
    assert problem(post(client, key, path, backwards), 422, "invalid_payment_period")["rules"] == [
        "R-PAR-3"
    ]
    assert engagement(client, case_id, "participation")["version"] == version
    assert ok(post(client, key, path, payment))["version"] == version + 1
