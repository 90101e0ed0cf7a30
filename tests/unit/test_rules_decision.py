"""The municipality's support decision and who does what: R-DEC-1 .. R-DEC-3, R-ORG-1."""

from __future__ import annotations

import pytest

from service.domain.case import SupportCase
from service.domain.errors import GateRefused, RuleViolation
from service.domain.values import Actor, MeetingKind, Role, Timing
from tests.unit import support
from tests.unit.support import (
    CENTER,
    CITY,
    COORDINATOR,
    MUNICIPALITY_ID,
    OUTREACH,
    PARTICIPATION,
    refused,
)


@pytest.mark.parametrize("role", support.NON_MUNICIPAL_ROLES, ids=str)
def test_R_DEC_1_support_decision_by_non_municipal_role_is_refused(
    yamada: SupportCase, role: Role
) -> None:
    """R-DEC-1: only the municipality makes the support decision on outreach/participation."""
    support.awaiting_decision(yamada, ["outreach"])
    actor = Actor(MUNICIPALITY_ID, f"agency-{role}", role)
    with refused(
        GateRefused,
        "decision_requires_municipality",
        rules=["R-DEC-1", "R-ORG-1"],
        case=yamada,
    ) as exc:
        yamada.decide_support(actor, granted=True, reason="", decided_on="2026-06-12")
    assert set(exc.value.allowed_commands) == support.ALLOWED["awaiting_decision"]


def test_R_DEC_1_municipality_decision_puts_the_plan_in_effect(yamada: SupportCase) -> None:
    """R-DEC-1: 山田ハナ's plan with outreach takes effect with the municipality's decision."""
    support.awaiting_decision(yamada, ["outreach"])
    yamada.decide_support(CITY, granted=True, reason="", decided_on="2026-06-12")
    assert yamada.state == "in_support"
    assert yamada.current_plan["version"] == 1
    assert yamada.current_plan["decision"] == {
        "granted": True,
        "reason": "",
        "decided_on": "2026-06-12",
    }
    assert support.event_names(yamada)[-1] == "SupportDecided"


def test_R_DEC_1_decision_is_not_taken_for_a_plan_without_outreach(sato: SupportCase) -> None:
    """R-DEC-1, R-PLN-2: a plan without outreach/participation needs no decision."""
    support.in_support(sato)
    with support.not_allowed(sato):
        sato.decide_support(CITY, granted=True, reason="", decided_on="2026-06-12")


@pytest.mark.parametrize("reason", ["", "  "])
def test_R_DEC_2_refusal_without_reason_is_refused(yamada: SupportCase, reason: str) -> None:
    """R-DEC-2: a refused decision carries its reason back to the coordinator."""
    support.awaiting_decision(yamada, ["outreach"])
    with refused(GateRefused, "refusal_reason_required", rules=["R-DEC-2"], case=yamada):
        yamada.decide_support(CITY, granted=False, reason=reason, decided_on="2026-06-12")


def test_R_DEC_2_refused_first_plan_goes_back_to_planning_with_reason(yamada: SupportCase) -> None:
    """R-DEC-2: a refused first plan returns to planning; the coordinator submits it again."""
    support.awaiting_decision(yamada, ["outreach"])
    yamada.decide_support(CITY, granted=False, reason="役割分担が不明確", decided_on="2026-06-12")
    assert yamada.state == "planning"
    assert yamada.plans[0]["status"] == "refused"
    assert yamada.plans[0]["decision"]["reason"] == "役割分担が不明確"
    assert yamada.current_plan is None
    # revised and submitted again
    version = yamada.draft_plan(COORDINATOR, support.plan(["outreach"], policy="役割を明確化"))
    assert [(p["version"], p["status"]) for p in yamada.plans] == [(1, "superseded"), (2, "draft")]
    yamada.approve_plan(COORDINATOR, support.meeting_for(yamada, Timing.plan, version))
    yamada.decide_support(CITY, granted=True, reason="", decided_on="2026-07-01")
    assert yamada.current_plan["version"] == 2


def test_R_DEC_2_refused_replan_goes_back_to_replanning(yamada: SupportCase) -> None:
    """R-DEC-2: a refused re-plan returns to replanning; the plan in effect stays in effect."""
    support.in_replanning(yamada, ["outreach"])
    version = yamada.draft_plan(COORDINATOR, support.plan(["outreach", "participation"]))
    yamada.approve_replan(COORDINATOR, support.meeting_for(yamada, Timing.replan, version))
    assert yamada.state == "awaiting_decision"
    yamada.decide_support(CITY, granted=False, reason="受け入れ先が未定", decided_on="2026-12-01")
    assert yamada.state == "replanning"
    assert yamada.current_plan["version"] == 1
    assert yamada.plans[1]["status"] == "refused"
    assert yamada.plans[1]["decision"]["reason"] == "受け入れ先が未定"


def test_R_DEC_3_early_start_is_recorded_and_the_plan_must_include_it(
    yamada: SupportCase,
) -> None:
    """R-DEC-3: outreach started before the plan is recorded; a plan omitting it is refused."""
    support.in_planning(yamada)
    yamada.record_early_start(OUTREACH, "outreach", "長男が訪問を拒否", "2026-04-20")
    with refused(GateRefused, "plan_omits_early_start", rules=["R-DEC-3"], case=yamada):
        yamada.draft_plan(COORDINATOR, support.plan())
    with refused(GateRefused, "plan_omits_early_start", case=yamada):
        yamada.draft_plan(COORDINATOR, support.plan(["participation"]))
    assert yamada.draft_plan(COORDINATOR, support.plan(["outreach"])) == 1


def test_R_DEC_3_early_start_without_reason_is_refused(hoarding_couple: SupportCase) -> None:
    """R-DEC-3: the early start and its reason are recorded; no reason, no early start."""
    hoarding_couple.refer_to_council(CITY, "接触拒否")
    with refused(
        GateRefused, "early_start_reason_required", rules=["R-DEC-3"], case=hoarding_couple
    ):
        hoarding_couple.record_early_start(OUTREACH, "outreach", "", "2026-05-10")
    assert hoarding_couple.early_starts == []


def test_R_DEC_3_early_participation_in_replanning_is_carried_into_the_replan(
    yamada: SupportCase,
) -> None:
    """R-DEC-3: in the 8050 re-plan, participation started early must be in plan v2."""
    support.in_replanning(yamada, ["outreach"])
    yamada.record_early_start(
        PARTICIPATION, "participation", "農作業体験の受け入れ枠", "2026-11-01"
    )
    with refused(GateRefused, "plan_omits_early_start", case=yamada):
        yamada.draft_plan(COORDINATOR, support.plan(["outreach"]))
    assert yamada.draft_plan(COORDINATOR, support.plan(["outreach", "participation"])) == 2


@pytest.mark.parametrize("host", [COORDINATOR, CENTER, OUTREACH], ids=lambda a: str(a.role))
def test_R_ORG_1_support_council_hosted_by_non_municipality_is_refused(
    hoarding_couple: SupportCase, host: Actor
) -> None:
    """R-ORG-1: hosting the support council is the municipality's own work."""
    with refused(RuleViolation, "council_host_must_be_municipality", rules=["R-ORG-1", "R-CON-2"]):
        support.hold_meeting(
            [support.item(hoarding_couple, Timing.none, None, "noted")],
            kind=MeetingKind.support_council,
            host=host,
            consented=set(),
        )


def test_R_ORG_1_municipality_hosts_the_council_and_decides(yamada: SupportCase) -> None:
    """R-ORG-1: the municipality hosts the council and makes the support decision itself."""
    council = support.hold_meeting(
        [support.item(yamada, Timing.none, None, "noted")],
        kind=MeetingKind.support_council,
        host=CITY,
        consented=set(),
    )
    assert council.host["role"] == "municipality"
    support.awaiting_decision(yamada, ["outreach"])
    with refused(GateRefused, "decision_requires_municipality", rules=["R-ORG-1"], case=yamada):
        yamada.decide_support(COORDINATOR, granted=True, reason="", decided_on="2026-06-12")
    yamada.decide_support(CITY, granted=True, reason="", decided_on="2026-06-12")
    assert yamada.state == "in_support"


def test_R_PLN_3_plan_pending_when_application_was_withdrawn_is_not_left_pending(
    yamada: SupportCase,
) -> None:
    """R-PLN-3, R-CON-3, R-DEC-2: after withdrawal and re-entry, only the new plan is pending.

    Plan v1 awaited the decision when 山田ハナ withdrew her application; she applies again and
    plan v2 is drafted: v1 must no longer read as awaiting a decision.
    """
    support.awaiting_decision(yamada, ["outreach"])
    yamada.withdraw_consent(COORDINATOR, "consent-1", "2026-07-01")
    assert yamada.state == "council_track"
    support.in_planning(yamada)
    yamada.draft_plan(COORDINATOR, support.plan(["outreach"]))
    statuses = [p["status"] for p in yamada.plans]
    assert statuses[-1] == "draft"
    assert "awaiting_decision" not in statuses
