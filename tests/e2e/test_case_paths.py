"""The paths of a case over HTTP, with the fictional cases of EXAMPLES.md.

Each test follows one example case from referral to its end, checking after every command
that the case's version rose by exactly one and that the state is the workflow's.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.e2e.support import (
    CENTER,
    CENTER_AGENCY,
    CITY,
    COORDINATOR,
    COORDINATOR_AGENCY,
    DISABILITY_AGENCY,
    HOARDING_COUPLE,
    OUTREACH_AGENCY,
    PARTICIPATION_AGENCY,
    SELF_RELIANCE,
    SELF_RELIANCE_AGENCY,
    SIMPLE_ROLES,
    SUZUKI,
    TAKAHASHI,
    YAMADA,
    Json,
    case,
    case_in_support,
    contact_attempt,
    events,
    item,
    meeting_body,
    ok,
    plan_body,
    post,
    problem,
    refer,
)

YAMADA_ROLES = [
    (COORDINATOR_AGENCY, "coordinator", "全体調整・会議運営"),
    (CENTER_AGENCY, "community_general_support_center", "ハナさんの介護・見守り"),
    (SELF_RELIANCE_AGENCY, "self_reliance_consultation", "家計改善支援"),
    (OUTREACH_AGENCY, "outreach_provider", "タロウさんへの訪問・手紙"),
]

EVENT_LABELS = {
    "CaseReferred": "紹介受付",
    "ConsentGiven": "同意の取得",
    "AssessmentStarted": "アセスメント開始",
    "AssessmentCompleted": "アセスメント完了",
    "PlanDrafted": "プラン案作成",
    "PlanApproved": "会議でのプラン承認",
    "SupportDecided": "支援決定",
    "MonitoringRecorded": "モニタリング",
    "ReplanStarted": "再プラン開始",
    "CaseClosed": "終結",
    "CaseResumed": "再開",
    "ReferredToCouncil": "支援会議への付議",
    "EarlyStartRecorded": "早期支援開始の記録",
    "ContactAttemptRecorded": "接触の記録",
    "CaseSuspended": "中断",
    "ReturnedToReferrer": "紹介元へ戻し",
}


class Steps:
    """Sends commands to one case and checks each answer's version (+1) and state."""

    def __init__(self, client: TestClient, case_id: str, version: int) -> None:
        self.client = client
        self.case_id = case_id
        self.version = version

    def __call__(self, key: str, command: str, body: Json, state: str) -> Json:
        response = post(self.client, key, f"/cases/{self.case_id}/{command}", body)
        answer = ok(response)
        assert answer["version"] == self.version + 1, (command, answer)
        assert answer["state"] == state, (command, answer)
        assert response.headers["ETag"] == f'"{answer["version"]}"'
        self.version = answer["version"]
        return answer


def test_R_INT_1_R_INT_2_R_MTG_5_R_DEC_1_R_PLN_3_R_END_2_R_END_3_R_END_4_yamada_8050_full_path(
    client: TestClient,
) -> None:
    """R-INT-1, R-INT-2, R-CON-1, R-ASM-2, R-PLN-1, R-PLN-2, R-PLN-3, R-MTG-2, R-MTG-5,
    R-DEC-1, R-SUP-1, R-END-1, R-END-2, R-END-3, R-END-4, R-PAR-5: 山田ハナ (8050) from
    referral by the community general support center to closure at meeting C and resumption.
    """
    referred = ok(post(client, CENTER, "/cases", YAMADA), 201)
    assert (referred["version"], referred["state"]) == (1, "referred")
    case_id = referred["case_id"]
    step = Steps(client, case_id, 1)

    given = step(
        COORDINATOR,
        "consents",
        {
            "person_id": "person",
            "application_for_use": True,
            "agency_ids": [CENTER_AGENCY, SELF_RELIANCE_AGENCY, OUTREACH_AGENCY],
            "given_by": "person",
            "given_on": "2026-04-03",
        },
        "referred",
    )
    assert given["consent_id"] == "consent-1"
    step(COORDINATOR, "assessment-start", {}, "assessment")
    step(
        COORDINATOR,
        "assessments",
        {
            "domains": [{"domain": "家計", "items": ["滞納"], "narrative": "公共料金の未払い"}],
            "information_sources": [{"agency_id": CENTER_AGENCY, "requested_on": "2026-04-05"}],
            "summary": "高齢の母と長期ひきこもりの長男の世帯",
        },
        "planning",
    )
    drafted = step(COORDINATOR, "plans", plan_body(YAMADA_ROLES, ["outreach"]), "planning")
    assert drafted["plan_version"] == 1

    meeting_a = ok(
        post(
            client,
            COORDINATOR,
            "/meetings",
            meeting_body(
                [item(case_id, "plan", 1)], held_on="2026-05-10", title="第1回重層的支援会議"
            ),
        ),
        201,
    )["meeting_id"]
    # a meeting is its own record: the case's version does not move
    assert case(client, case_id)["version"] == step.version

    step(COORDINATOR, "plan-approval", {"meeting_id": meeting_a}, "awaiting_decision")
    assert case(client, case_id)["current_plan"] is None  # not in effect before the decision
    step(
        CITY,
        "support-decisions",
        {"granted": True, "decided_on": "2026-05-12"},
        "in_support",
    )
    step(
        SELF_RELIANCE,
        "monitoring",
        {"on": "2026-06-01", "summary": "滞納は分割納付で解消へ", "contact_made": True},
        "in_support",
    )
    # six months on, タロウ consents to sharing (R-CON-5); the application stays Hana's
    step(
        COORDINATOR,
        "consents",
        {
            "person_id": "member-1",
            "application_for_use": False,
            "agency_ids": [OUTREACH_AGENCY, PARTICIPATION_AGENCY],
            "given_by": "person",
            "given_on": "2026-10-01",
        },
        "in_support",
    )
    step(COORDINATOR, "replan", {"reason": "タロウさんが同意、参加支援を加える"}, "replanning")
    roles_v2 = [
        *YAMADA_ROLES,
        (PARTICIPATION_AGENCY, "participation_provider", "農作業体験の受け入れ調整"),
    ]
    drafted = step(
        COORDINATOR,
        "plans",
        plan_body(roles_v2, ["outreach", "participation"], ["タロウさんの社会参加"]),
        "replanning",
    )
    assert drafted["plan_version"] == 2
    meeting_b = ok(
        post(
            client,
            COORDINATOR,
            "/meetings",
            meeting_body([item(case_id, "replan", 2)], held_on="2026-10-15", title="第5回"),
        ),
        201,
    )["meeting_id"]
    step(COORDINATOR, "replan-approval", {"meeting_id": meeting_b}, "awaiting_decision")
    step(CITY, "support-decisions", {"granted": True, "decided_on": "2026-10-20"}, "in_support")

    meeting_c = ok(
        post(
            client,
            COORDINATOR,
            "/meetings",
            meeting_body([item(case_id, "closure", 2)], held_on="2027-03-10", title="第10回"),
        ),
        201,
    )["meeting_id"]
    step(
        COORDINATOR,
        "closure",
        {
            "meeting_id": meeting_c,
            "lead_agency_id": CENTER_AGENCY,
            "follow_up": {"needed": True, "method": "四半期ごとの訪問"},
            "hand_back": {
                "agency_id": CENTER_AGENCY,
                "agency_kind": "community_general_support_center",
            },
            "goal_attainment": "家計は安定、タロウさんは週2回農園へ",
        },
        "closed",
    )
    closed = case(client, case_id)
    assert closed["state"] == "closed"
    assert closed["lead_agency_id"] == CENTER_AGENCY
    assert closed["closure"]["follow_up"] == {"needed": True, "method": "四半期ごとの訪問"}
    assert closed["closure"]["hand_back"]["agency_id"] == CENTER_AGENCY
    assert closed["closure"]["meeting_id"] == meeting_c
    assert closed["allowed_commands"] == ["give_consent", "withdraw_consent", "resume_case"]

    step(
        COORDINATOR,
        "resumption",
        {"reason": "ハナさんの入院でタロウさんが独居に", "resumed_on": "2027-06-01"},
        "replanning",
    )

    detail = case(client, case_id)
    assert detail["state"] == "replanning"
    assert detail["state_label"] == "再プラン作成"
    assert detail["version"] == step.version == 15
    assert detail["current_plan"]["version"] == 2
    assert detail["current_plan"]["status"] == "in_effect"
    assert detail["current_plan"]["services"] == ["outreach", "participation"]
    assert [(p["version"], p["status"]) for p in detail["plans"]] == [
        (1, "superseded"),
        (2, "in_effect"),
    ]
    assert detail["plans"][0]["decision"]["granted"] is True
    assert [
        (c["consent_id"], c["person_id"], c["application_for_use"]) for c in detail["consents"]
    ] == [
        ("consent-1", "person", True),
        ("consent-2", "member-1", False),
    ]
    assert detail["consents"][0]["agency_ids"] == [
        CENTER_AGENCY,
        SELF_RELIANCE_AGENCY,
        OUTREACH_AGENCY,
    ]
    assert [(m["meeting_id"], m["timing"], m["plan_version"]) for m in detail["meetings"]] == [
        (meeting_a, "plan", 1),
        (meeting_b, "replan", 2),
        (meeting_c, "closure", 2),
    ]
    assert all(m["kind"] == "layered_support_meeting" for m in detail["meetings"])
    assert detail["resumptions"][0]["from_state"] == "closed"

    history = events(client, case_id)
    assert [e["version"] for e in history] == list(range(1, 16))
    assert [e["type"] for e in history] == [
        "CaseReferred",
        "ConsentGiven",
        "AssessmentStarted",
        "AssessmentCompleted",
        "PlanDrafted",
        "PlanApproved",
        "SupportDecided",
        "MonitoringRecorded",
        "ConsentGiven",
        "ReplanStarted",
        "PlanDrafted",
        "PlanApproved",
        "SupportDecided",
        "CaseClosed",
        "CaseResumed",
    ]
    assert all(e["label"] == EVENT_LABELS[e["type"]] for e in history)
    assert history[0]["actor"] == {
        "municipality_id": "demo-city",
        "agency_id": CENTER_AGENCY,
        "role": "community_general_support_center",
    }
    assert history[6]["actor"]["role"] == "municipality"  # the decision is the city's
    assert history[13]["payload"]["meeting_id"] == meeting_c


def test_R_SUS_1_R_SUS_2_R_SUS_3_R_MTG_5_suzuki_lost_contact_suspension_and_resumption(
    client: TestClient,
) -> None:
    """R-SUS-1, R-SUS-2, R-SUS-3, R-MTG-5 (D): 鈴木ケン stops answering; suspension is refused
    until unanswered attempts are on record, decided at meeting D, and resumed only with the
    date contact returned.
    """
    case_id = case_in_support(client, SUZUKI, ["participation"], key=SELF_RELIANCE)
    step = Steps(client, case_id, case(client, case_id)["version"])
    assert step.version == 7
    meeting_d = ok(
        post(
            client,
            COORDINATOR,
            "/meetings",
            meeting_body([item(case_id, "suspension", 1)], held_on="2026-08-20"),
        ),
        201,
    )["meeting_id"]
    suspension = {
        "meeting_id": meeting_d,
        "reason": "電話・自宅訪問・元施設職員への確認でも連絡が取れない",
    }

    refused = problem(
        post(client, COORDINATOR, f"/cases/{case_id}/suspension", suspension),
        409,
        "contact_attempts_required",
    )
    assert "R-SUS-2" in refused["rules"]
    # a call that reached him: contact is not lost, so still no suspension
    step(
        COORDINATOR,
        "contact-attempts",
        {"kind": "phone", "on": "2026-07-01", "reached": True},
        "in_support",
    )
    problem(
        post(client, COORDINATOR, f"/cases/{case_id}/suspension", suspension),
        409,
        "contact_attempts_required",
    )
    assert case(client, case_id)["version"] == step.version

    step(
        COORDINATOR,
        "contact-attempts",
        {
            "kind": "information_from_surroundings",
            "on": "2026-08-01",
            "reached": False,
            "note": "元の児童養護施設の職員も連絡が取れていない",
        },
        "in_support",
    )
    step(
        COORDINATOR,
        "contact-attempts",
        {"kind": "home_visit", "on": "2026-08-10", "reached": False},
        "in_support",
    )
    step(COORDINATOR, "suspension", suspension, "suspended")

    suspended = case(client, case_id)
    assert suspended["suspension"] == {"meeting_id": meeting_d, "reason": suspension["reason"]}
    assert [(m["meeting_id"], m["timing"]) for m in suspended["meetings"]][-1] == (
        meeting_d,
        "suspension",
    )
    assert [c["reached"] for c in suspended["contacts"]] == [True, False, False]

    resumption = {"reason": "本人から相談窓口に電話", "resumed_on": "2026-12-15"}
    refused = problem(
        post(client, COORDINATOR, f"/cases/{case_id}/resumption", resumption),
        409,
        "contact_restoration_required",
    )
    assert "R-SUS-3" in refused["rules"]
    assert case(client, case_id)["version"] == step.version
    step(
        COORDINATOR, "resumption", {**resumption, "contact_restored_on": "2026-12-14"}, "replanning"
    )

    detail = case(client, case_id)
    assert detail["resumptions"] == [
        {
            "from_state": "suspended",
            "reason": resumption["reason"],
            "resumed_on": "2026-12-15",
            "contact_restored_on": "2026-12-14",
        }
    ]
    assert detail["suspension"] is None
    assert [e["type"] for e in events(client, case_id)][7:] == [
        "ContactAttemptRecorded",
        "ContactAttemptRecorded",
        "ContactAttemptRecorded",
        "CaseSuspended",
        "CaseResumed",
    ]


def test_R_SUS_1_R_SUS_2_resumed_case_is_not_suspended_again_on_the_old_attempts(
    client: TestClient,
) -> None:
    """R-SUS-1, R-SUS-2, R-SUS-3: once 鈴木ケン's contact is restored, contact is no longer lost;
    a new suspension needs new unanswered attempts.
    """
    case_id = case_in_support(client, SUZUKI, ["participation"], key=SELF_RELIANCE)
    meeting_d = ok(
        post(
            client,
            COORDINATOR,
            "/meetings",
            meeting_body([item(case_id, "suspension", 1)], held_on="2026-08-20"),
        ),
        201,
    )["meeting_id"]
    contact_attempt(client, case_id, "information_from_surroundings", False, on="2026-08-01")
    contact_attempt(client, case_id, "home_visit", False, on="2026-08-10")
    suspension = {"meeting_id": meeting_d, "reason": "連絡が完全に途絶"}
    assert ok(post(client, COORDINATOR, f"/cases/{case_id}/suspension", suspension))["state"] == (
        "suspended"
    )
    resumed = ok(
        post(
            client,
            COORDINATOR,
            f"/cases/{case_id}/resumption",
            {
                "reason": "本人から相談窓口に電話",
                "resumed_on": "2026-12-15",
                "contact_restored_on": "2026-12-14",
            },
        )
    )
    assert (resumed["state"], resumed["version"]) == ("replanning", 11)

    problem(
        post(client, COORDINATOR, f"/cases/{case_id}/suspension", suspension),
        409,
        "contact_attempts_required",
    )
    assert case(client, case_id)["state"] == "replanning"


def test_R_CON_2_R_DEC_3_R_INT_2_council_only_couple_without_consent(client: TestClient) -> None:
    """R-CON-2, R-DEC-3, R-OUT-3, R-INT-2, R-ORG-1: the hoarding couple who refuse contact go to
    the municipality's support council; no layered support meeting takes them until consent;
    outreach starts early with a reason, and the plan later includes it.
    """
    case_id = refer(client, HOARDING_COUPLE)["case_id"]
    step = Steps(client, case_id, 1)
    step(
        CITY,
        "council-referral",
        {"reason": "本人が一切の接触を拒否、近隣から通報"},
        "council_track",
    )

    on_agenda = [item(case_id, "none", None, "noted")]
    refused = problem(
        post(client, COORDINATOR, "/meetings", meeting_body(on_agenda)), 422, "case_without_consent"
    )
    assert refused["rules"] == ["R-CON-2"]
    council = meeting_body(
        on_agenda, kind="support_council", title="支援会議（守秘義務あり）", held_on="2026-04-20"
    )
    problem(
        post(client, COORDINATOR, "/meetings", council), 422, "council_host_must_be_municipality"
    )
    council_id = ok(post(client, CITY, "/meetings", council), 201)["meeting_id"]
    assert case(client, case_id)["version"] == step.version  # a meeting does not change the case

    problem(
        post(
            client,
            COORDINATOR,
            f"/cases/{case_id}/early-starts",
            {"service": "outreach", "reason": "  ", "started_on": "2026-04-10"},
        ),
        409,
        "early_start_reason_required",
    )
    step(
        COORDINATOR,
        "early-starts",
        {
            "service": "outreach",
            "reason": "セルフネグレクトの疑い、早期の関係づくりが必要",
            "started_on": "2026-04-10",
        },
        "council_track",
    )
    problem(
        post(client, COORDINATOR, f"/cases/{case_id}/assessment-start", {}), 409, "consent_required"
    )

    step(
        COORDINATOR,
        "consents",
        {
            "person_id": "person",
            "application_for_use": True,
            "agency_ids": [OUTREACH_AGENCY],
            "given_by": "person",
            "given_on": "2026-06-01",
        },
        "council_track",
    )
    step(COORDINATOR, "assessment-start", {}, "assessment")
    step(COORDINATOR, "assessments", {"summary": "訪問を重ねて話ができるようになった"}, "planning")
    # the early outreach must be in the plan (R-DEC-3)
    roles = [
        (COORDINATOR_AGENCY, "coordinator", "調整"),
        (OUTREACH_AGENCY, "outreach_provider", "訪問"),
    ]
    problem(
        post(client, COORDINATOR, f"/cases/{case_id}/plans", plan_body(roles)),
        409,
        "plan_omits_early_start",
    )
    step(COORDINATOR, "plans", plan_body(roles, ["outreach"]), "planning")
    # with consent, the layered support meeting may take the case
    meeting_a = ok(
        post(
            client,
            COORDINATOR,
            "/meetings",
            meeting_body([item(case_id, "plan", 1)], held_on="2026-06-20"),
        ),
        201,
    )["meeting_id"]

    detail = case(client, case_id)
    assert detail["council_referral"] == {"reason": "本人が一切の接触を拒否、近隣から通報"}
    assert [s["service"] for s in detail["early_starts"]] == ["outreach"]
    assert [(m["meeting_id"], m["kind"], m["timing"]) for m in detail["meetings"]] == [
        (council_id, "support_council", "none"),
        (meeting_a, "layered_support_meeting", "plan"),
    ]


def test_R_INT_4_takahashi_returned_to_referrer(client: TestClient) -> None:
    """R-INT-4: 高橋ユイ is returned to the disability consultation only after consulting it;
    a returned case is final and refuses every further command.
    """
    case_id = refer(client, TAKAHASHI)["case_id"]
    refused = problem(
        post(client, COORDINATOR, f"/cases/{case_id}/return-to-referrer", {"consultation": None}),
        409,
        "referrer_consultation_required",
    )
    assert refused["rules"] == ["R-INT-4"]
    assert case(client, case_id)["version"] == 1
    consultation = {
        "consulted_on": "2026-04-08",
        "consulted_with": "障害者相談支援事業 相談員",
        "summary": "障害者相談支援とハローワークの通常の連携で対応できる",
        "cooperation": "月1回の情報共有を継続",
    }
    step = Steps(client, case_id, 1)
    returned = step(
        COORDINATOR, "return-to-referrer", {"consultation": consultation}, "returned_to_referrer"
    )
    assert returned["allowed_commands"] == []
    detail = case(client, case_id)
    assert detail["return_to_referrer"] == consultation
    assert detail["allowed_commands"] == []

    conference = ok(
        post(client, COORDINATOR, "/meetings", meeting_body([], kind="case_conference")), 201
    )["meeting_id"]
    attempts = {
        "consents": {
            "person_id": "person",
            "application_for_use": True,
            "given_by": "person",
            "given_on": "2026-04-09",
        },
        "assessment-start": {},
        "council-referral": {"reason": "再検討"},
        "return-to-referrer": {"consultation": consultation},
        "contact-attempts": {"kind": "phone", "on": "2026-04-10", "reached": True},
        "plans": plan_body(SIMPLE_ROLES),
        "plan-approval": {"meeting_id": conference},
        "closure": {
            "meeting_id": conference,
            "lead_agency_id": DISABILITY_AGENCY,
            "follow_up": {"needed": False},
        },
        "resumption": {"reason": "再相談", "resumed_on": "2026-05-01"},
    }
    for command, body in attempts.items():
        answer = problem(
            post(client, COORDINATOR, f"/cases/{case_id}/{command}", body),
            409,
            "command_not_allowed",
        )
        assert answer.get("allowed_commands", []) == [], command
    assert case(client, case_id)["version"] == 2
    assert [e["type"] for e in events(client, case_id)] == ["CaseReferred", "ReturnedToReferrer"]
