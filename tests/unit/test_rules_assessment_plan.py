"""Assessment and plan: R-ASM-1 .. R-ASM-3, R-PLN-1 .. R-PLN-3."""

from __future__ import annotations

import pytest

from service.domain.case import SupportCase
from service.domain.errors import GateRefused
from service.domain.values import Timing
from tests.unit import support
from tests.unit.support import COORDINATOR, OUTREACH, not_allowed, refused

SHEET = {
    "sources": ["referrer:hokatsu-minami", "jiritsu-soudan", "coordinator-own"],
    "summary": "家計の破綻、長男の長期ひきこもり",
}


def test_R_ASM_1_assessment_collects_information_from_referrer_and_agencies(
    yamada: SupportCase,
) -> None:
    """R-ASM-1: the assessment is made with information from the referrer and the agencies."""
    support.in_assessment(yamada)
    assert yamada.state == "assessment"
    yamada.complete_assessment(COORDINATOR, SHEET)
    assert yamada.assessments == [SHEET]
    assert yamada.assessments[0]["sources"][0].startswith("referrer")


def test_R_ASM_1_assessment_cannot_be_completed_before_it_started(yamada: SupportCase) -> None:
    """R-ASM-1: completing an assessment needs the case taken for assessment first."""
    support.consented(yamada)
    with not_allowed(yamada):
        yamada.complete_assessment(COORDINATOR, SHEET)


def test_R_ASM_2_completed_sheet_is_presented_for_planning(yamada: SupportCase) -> None:
    """R-ASM-2: the intake-assessment sheet is compiled and the case moves on to planning."""
    support.in_assessment(yamada)
    yamada.complete_assessment(COORDINATOR, SHEET)
    assert yamada.state == "planning"
    assert support.event_names(yamada)[-1] == "AssessmentCompleted"


def test_R_ASM_2_reassessment_during_replanning_stays_in_replanning(yamada: SupportCase) -> None:
    """R-ASM-2, R-PLN-3: a new assessment for a re-plan is recorded without leaving replanning."""
    support.in_replanning(yamada)
    yamada.complete_assessment(COORDINATOR, {"summary": "長男が同意、参加支援が必要"})
    assert yamada.state == "replanning"
    assert len(yamada.assessments) == 2


def test_R_ASM_3_outreach_may_start_early_from_assessment(yamada: SupportCase) -> None:
    """R-ASM-3: from the assessment stage, outreach may be engaged early with a reason."""
    support.in_assessment(yamada)
    yamada.record_early_start(
        OUTREACH, "outreach", "長男が訪問を拒否、関係づくりが急務", "2026-04-20"
    )
    assert yamada.state == "assessment"
    assert yamada.early_starts[0]["service"] == "outreach"


@pytest.mark.parametrize("reason", ["", "  "])
def test_R_ASM_3_early_start_without_reason_is_refused(yamada: SupportCase, reason: str) -> None:
    """R-ASM-3, R-DEC-3: an early start is recorded with its reason, or refused."""
    support.in_assessment(yamada)
    with refused(
        GateRefused,
        "early_start_reason_required",
        rules=["R-ASM-3", "R-DEC-3"],
        case=yamada,
    ):
        yamada.record_early_start(OUTREACH, "outreach", reason, "2026-04-20")


@pytest.mark.parametrize(
    "missing",
    [
        {"goals": []},
        {"policy": ""},
        {"policy": "   "},
        {"roles": []},
        {"monitoring_dates": []},
        pytest.param(
            {"policy": None},
        ),
    ],
    ids=["no-goals", "no-policy", "blank-policy", "no-roles", "no-monitoring", "null-policy"],
)
def test_R_PLN_1_incomplete_plan_is_refused(yamada: SupportCase, missing: dict) -> None:
    """R-PLN-1: a plan states goals, policy, roles and monitoring timing, or it is refused."""
    support.in_planning(yamada)
    with refused(GateRefused, "plan_incomplete", rules=["R-PLN-1"], case=yamada):
        yamada.draft_plan(COORDINATOR, {**support.plan(), **missing})
    assert yamada.plans == []


def test_R_PLN_1_complete_plan_is_drafted_as_version_1(sato: SupportCase) -> None:
    """R-PLN-1: 佐藤ミキ's plan v1: goals, policy, roles, monitoring at 3 and 6 months."""
    support.in_planning(sato)
    draft = support.plan(monitoring_dates=["2026-07-01", "2026-10-01"])
    assert sato.draft_plan(COORDINATOR, draft) == 1
    assert sato.plan_in_draft is not None
    assert sato.plan_in_draft["version"] == 1
    assert sato.plan_in_draft["status"] == "draft"
    assert sato.plan_in_draft["monitoring_dates"] == ["2026-07-01", "2026-10-01"]
    assert sato.current_plan is None


def test_R_PLN_2_approval_without_a_draft_is_refused(sato: SupportCase) -> None:
    """R-PLN-2: only a drafted plan can be judged by the meeting."""
    support.in_planning(sato)
    with refused(GateRefused, "no_draft_plan", rules=["R-PLN-2"], case=sato):
        sato.approve_plan(COORDINATOR, support.evidence(plan_version=None))


def test_R_PLN_2_plan_without_outreach_takes_effect_after_meeting_A(sato: SupportCase) -> None:
    """R-PLN-2: 佐藤ミキ's plan uses no outreach/participation: meeting A puts it in effect."""
    support.in_planning(sato)
    version = sato.draft_plan(COORDINATOR, support.plan())
    meeting = support.meeting_for(sato, Timing.plan, version)
    sato.approve_plan(COORDINATOR, meeting)
    assert sato.state == "in_support"
    assert sato.current_plan is not None
    assert sato.current_plan["version"] == 1
    assert sato.current_plan["meeting_id"] == meeting.meeting_id
    assert sato.meeting_ids == [meeting.meeting_id]


def test_R_PLN_2_plan_with_outreach_waits_for_the_support_decision(yamada: SupportCase) -> None:
    """R-PLN-2: 山田ハナ's plan uses outreach: after meeting A it awaits the municipality."""
    support.awaiting_decision(yamada, ["outreach"])
    assert yamada.state == "awaiting_decision"
    assert yamada.current_plan is None
    assert yamada.pending_plan is not None
    assert yamada.pending_plan["version"] == 1


def test_R_PLN_3_replan_is_versioned_and_needs_its_own_meeting(sato: SupportCase) -> None:
    """R-PLN-3: the re-plan is v2, adopted at meeting B; v1 stays readable as superseded."""
    support.in_replanning(sato)
    assert sato.state == "replanning"
    version = sato.draft_plan(
        COORDINATOR, support.plan(goals=["父の施設入所後の生活再建"], policy="家賃滞納の解消")
    )
    assert version == 2
    # a plan (A) meeting does not adopt a re-plan
    with refused(GateRefused, "meeting_gate_not_met", rules=["R-MTG-5"], case=sato):
        sato.approve_replan(COORDINATOR, support.meeting_for(sato, Timing.plan, version))
    sato.approve_replan(COORDINATOR, support.meeting_for(sato, Timing.replan, version))
    assert sato.state == "in_support"
    assert [(p["version"], p["status"]) for p in sato.plans] == [
        (1, "superseded"),
        (2, "in_effect"),
    ]
    assert sato.plans[0]["goals"] == ["世帯の家計を安定させる"]
    assert sato.current_plan["goals"] == ["父の施設入所後の生活再建"]


def test_R_PLN_3_new_draft_supersedes_the_previous_draft(sato: SupportCase) -> None:
    """R-PLN-3: redrafting keeps every version; only the last draft goes to the meeting."""
    support.in_planning(sato)
    sato.draft_plan(COORDINATOR, support.plan())
    sato.draft_plan(COORDINATOR, support.plan(policy="方向性を修正"))
    assert [(p["version"], p["status"]) for p in sato.plans] == [(1, "superseded"), (2, "draft")]
    with refused(GateRefused, "meeting_gate_not_met", case=sato):
        sato.approve_plan(COORDINATOR, support.meeting_for(sato, Timing.plan, 1))
    sato.approve_plan(COORDINATOR, support.meeting_for(sato, Timing.plan, 2))
    assert sato.current_plan["version"] == 2


def test_R_PLN_3_replanning_starts_only_from_support(sato: SupportCase) -> None:
    """R-PLN-3: a re-plan revises a plan in effect; it cannot start during planning."""
    support.in_planning(sato)
    with not_allowed(sato):
        sato.start_replan(COORDINATOR, "変化")
