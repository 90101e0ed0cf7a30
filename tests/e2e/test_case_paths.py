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
    CITY_AGENCY,
    COORDINATOR,
    COORDINATOR_AGENCY,
    HOARDING_COUPLE,
    MANDATORY,
    OUTREACH_AGENCY,
    PARTICIPATION_AGENCY,
    SELF_RELIANCE,
    SELF_RELIANCE_AGENCY,
    SUZUKI,
    TAKAHASHI,
    YAMADA,
    Json,
    as_,
    case,
    case_in_support,
    contact_attempt,
    events,
    item,
    meeting_body,
    ok,
    participant,
    plan_body,
    post,
    problem,
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
    drafted = step(
        COORDINATOR, "plans", plan_body(YAMADA_ROLES, ["outreach"]), "planning"
    )
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
            "hand_back": {"agency_id": CENTER_AGENCY, "agency_kind": "community_general_support_center"},
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
    assert [(c["consent_id"], c["person_id"], c["application_for_use"]) for c in detail["consents"]] == [
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
