"""Participation support (参加支援事業): R-PAR-1..5, R-DEC-3, R-MTG-5."""

from __future__ import annotations

import pytest

from service.domain.case import SupportCase
from service.domain.errors import CommandNotAllowed, GateRefused, RuleViolation
from service.domain.values import Timing
from service.domain.workflow import load_workflow
from tests.unit.engagement_support import (
    HOST_CAFE,
    HOST_FARM,
    decided,
    early,
    engagement_plan,
    follow_up,
    participation_in_matching,
    payment,
    service_meeting,
    settling_in,
)
from tests.unit.support import (
    COORDINATOR,
    PARTICIPATION,
    in_assessment,
    in_support,
    meeting_for,
    plan,
    refused,
    suspended,
)
from tests.unit.support import closure as case_closure


def stable(case: SupportCase):
    """Settling in at the farm; the host follow-up records the connection as stable."""
    engagement = settling_in(case)
    engagement.record_follow_up(PARTICIPATION, follow_up("host", connection_stable=True))
    return engagement


def closure(next_contact_due: str | None = "2026-12-01") -> dict:
    """A participation closure with the first periodic contact (R-PAR-4)."""
    return {"evaluation": "受け入れ先に定着した", "next_contact_due": next_contact_due}


# --- R-PAR-1: starting -----------------------------------------------------------------------


def test_R_PAR_1_participation_needs_the_application_for_use(suzuki: SupportCase) -> None:
    """R-PAR-1, R-INT-2: participation support never starts without the person's application."""
    suzuki.refer_to_council(COORDINATOR, "本人と連絡が取れない")
    with refused(GateRefused, "consent_required", rules=("R-PAR-1",), case=suzuki):
        early(suzuki, "participation")


def test_R_PAR_1_R_DEC_3_early_start_from_assessment_is_recorded_on_the_case(
    suzuki: SupportCase,
) -> None:
    """R-PAR-1, R-DEC-3, R-ASM-3: from the assessment the coordinator may start participation
    early; the case records it and its plan must then include participation."""
    in_assessment(suzuki)
    engagement = early(suzuki, "participation", COORDINATOR)
    assert engagement.state == "intake"
    assert engagement.start["pre_consent"] is False
    assert [s["service"] for s in suzuki.early_starts] == ["participation"]


def test_R_PAR_1_starts_when_the_plan_and_decision_include_it(suzuki: SupportCase) -> None:
    """R-PAR-1, R-DEC-1: after the meeting and the municipality's decision on a plan with
    participation, it starts on that basis."""
    with refused(GateRefused, "support_decision_required"):
        decided(in_support(suzuki, ("outreach",)), "participation")


def test_R_PAR_1_decided_start(sato: SupportCase) -> None:
    """R-PAR-1: the granted decision on a plan with participation is a basis to start."""
    engagement = decided(in_support(sato, ("participation",)), "participation")
    assert engagement.start["basis"] == "support_decision"
    assert engagement.allowed_commands == ("record_intake", "assess")


# --- R-PAR-2: intake, assessment, plan ----------------------------------------------------------


def test_R_PAR_2_assessment_needs_the_providers_intake(sato: SupportCase) -> None:
    """R-PAR-2: the provider does intake before assessment (`intake_required`)."""
    engagement = decided(in_support(sato, ("participation",)), "participation")
    with refused(GateRefused, "intake_required", rules=("R-PAR-2",)):
        engagement.assess(PARTICIPATION, {"on": "2026-06-20"})
    engagement.record_intake(PARTICIPATION, {"on": "2026-06-16"})
    engagement.assess(PARTICIPATION, {"on": "2026-06-20", "domains": ["就労"]})
    assert engagement.state == "planning"
    with pytest.raises(CommandNotAllowed):
        engagement.match_host(PARTICIPATION, {"host_id": HOST_FARM}, host_registered=True)


def test_R_PAR_2_plan_with_goals_and_each_partys_role_goes_to_meeting_A(
    sato: SupportCase,
) -> None:
    """R-PAR-2, R-PAR-5: the plan (goals of connection with society, what each party does incl.
    the host) is complete or refused, and takes effect at meeting A's participation item."""
    engagement = decided(in_support(sato, ("participation",)), "participation")
    engagement.record_intake(PARTICIPATION, {"on": "2026-06-16"})
    engagement.assess(PARTICIPATION, {"on": "2026-06-20"})
    with refused(GateRefused, "plan_incomplete", rules=("R-PAR-2", "R-PLN-1")):
        engagement.draft_plan(PARTICIPATION, {**engagement_plan(host=True), "goals": []})
    version = engagement.draft_plan(PARTICIPATION, engagement_plan(host=True))
    assert {"party": "host", "agency_id": None, "role": "就労体験の受け入れ"} in (
        engagement.plans[0]["roles"]
    )
    with refused(GateRefused, "meeting_gate_not_met", rules=("R-PAR-5",)):
        engagement.approve_plan(
            PARTICIPATION, service_meeting(sato, "outreach", Timing.plan, version)
        )
    engagement.approve_plan(
        PARTICIPATION, service_meeting(sato, "participation", Timing.plan, version)
    )
    assert engagement.state == "matching"


# --- R-PAR-3: matching, settling in, follow-up, payments ----------------------------------------


def test_R_PAR_3_the_host_must_be_in_the_register(suzuki: SupportCase) -> None:
    """R-PAR-3: matching needs a host of the municipality's register (`host_not_registered`)."""
    engagement = participation_in_matching(suzuki)
    with refused(GateRefused, "host_not_registered", rules=("R-PAR-3",)):
        engagement.match_host(PARTICIPATION, {"host_id": "nowhere"}, host_registered=False)
    engagement.match_host(
        PARTICIPATION, {"host_id": HOST_FARM, "menu": "就労体験"}, host_registered=True
    )
    assert engagement.state == "settling_in"
    assert engagement.host_id == HOST_FARM


def test_R_PAR_3_settling_in_and_follow_up_for_person_and_host(suzuki: SupportCase) -> None:
    """R-PAR-3: settling-in support and follow-up visits for the person and for the host; a
    host follow-up needs a matched host."""
    engagement = participation_in_matching(suzuki)
    with refused(GateRefused, "host_not_matched", rules=("R-PAR-3",)):
        engagement.record_follow_up(PARTICIPATION, follow_up("host"))
    engagement.record_follow_up(PARTICIPATION, follow_up("person"))
    engagement.match_host(PARTICIPATION, {"host_id": HOST_FARM}, host_registered=True)
    engagement.record_settling_in(PARTICIPATION, {"on": "2026-07-02", "party": "person"})
    engagement.record_settling_in(PARTICIPATION, {"on": "2026-07-03", "party": "host"})
    engagement.record_follow_up(PARTICIPATION, follow_up("host", connection_stable=False))
    assert [s["host_id"] for s in engagement.settling_in] == [HOST_FARM, HOST_FARM]
    assert [f["party"] for f in engagement.follow_ups] == ["person", "host"]
    assert engagement.follow_ups[1]["host_id"] == HOST_FARM
    assert engagement.connection_stable is False


def test_R_PAR_3_actual_costs_are_paid_to_matched_hosts_only(suzuki: SupportCase) -> None:
    """R-PAR-3: hosts can be paid actual costs; only a host the person was matched to, and an
    amount of at least one yen."""
    engagement = settling_in(suzuki)
    engagement.pay_cost(PARTICIPATION, payment())
    with refused(GateRefused, "host_not_matched", rules=("R-PAR-3",)):
        engagement.pay_cost(PARTICIPATION, payment(HOST_CAFE))
    for amount in (0, -5, "12000", True):
        with refused(GateRefused, "invalid_payment_amount"):
            engagement.pay_cost(PARTICIPATION, payment(amount_yen=amount))
    engagement.match_host(PARTICIPATION, {"host_id": HOST_CAFE}, host_registered=True)
    engagement.pay_cost(PARTICIPATION, payment(HOST_FARM, 3000))  # the earlier host's last month
    assert [(p["host_id"], p["amount_yen"]) for p in engagement.payments] == [
        (HOST_FARM, 12000),
        (HOST_FARM, 3000),
    ]


# --- R-PAR-4: closure when stable, periodic contact afterwards -----------------------------------


def test_R_PAR_4_closure_only_when_the_connection_is_recorded_stable(suzuki: SupportCase) -> None:
    """R-PAR-4, R-MTG-5 C: closure at meeting C only when the connection with the host is
    recorded as stable and the first periodic contact is scheduled."""
    engagement = settling_in(suzuki)
    version = engagement.current_plan["version"]
    meeting_c = service_meeting(suzuki, "participation", Timing.closure, version)
    with refused(GateRefused, "connection_not_stable", rules=("R-PAR-4",)):
        engagement.close(PARTICIPATION, meeting_c, closure())
    engagement.record_follow_up(PARTICIPATION, follow_up("host", connection_stable=True))
    with refused(GateRefused, "next_contact_due_required", rules=("R-PAR-4",)):
        engagement.close(PARTICIPATION, meeting_c, closure(None))
    with refused(GateRefused, "meeting_gate_not_met"):
        engagement.close(PARTICIPATION, meeting_for(suzuki, Timing.closure, version), closure())
    engagement.close(PARTICIPATION, meeting_c, closure())
    assert engagement.state == "closed"
    assert engagement.next_contact_due == "2026-12-01"


def test_R_PAR_4_a_new_host_makes_the_connection_unstable_again(suzuki: SupportCase) -> None:
    """R-PAR-4: stability is of the connection with the current host."""
    engagement = stable(suzuki)
    assert engagement.connection_stable
    engagement.match_host(PARTICIPATION, {"host_id": HOST_CAFE}, host_registered=True)
    assert not engagement.connection_stable


def test_R_PAR_4_periodic_contact_after_closure(suzuki: SupportCase) -> None:
    """R-PAR-4: after closure the relationship is kept up by periodic contact, each with the
    next contact's date; payments remain possible; other support is not."""
    engagement = stable(suzuki)
    version = engagement.current_plan["version"]
    engagement.close(
        PARTICIPATION,
        service_meeting(suzuki, "participation", Timing.closure, version),
        closure(),
    )
    with refused(GateRefused, "next_contact_due_required", rules=("R-PAR-4",)):
        engagement.record_periodic_contact(
            PARTICIPATION, {"on": "2026-12-01", "contact_made": True}
        )
    engagement.record_periodic_contact(
        PARTICIPATION, {"on": "2026-12-01", "contact_made": True, "next_contact_due": "2027-03-01"}
    )
    assert engagement.next_contact_due == "2027-03-01"
    engagement.pay_cost(PARTICIPATION, payment())
    with pytest.raises(CommandNotAllowed) as exc:
        engagement.record_settling_in(PARTICIPATION, {"on": "2026-12-02", "party": "person"})
    assert set(exc.value.allowed_commands) == {
        "record_periodic_contact",
        "pay_cost",
        "resume_engagement",
    }
    engagement.resume(PARTICIPATION, "職場が変わった", "2027-02-01")
    assert engagement.state == "replanning"
    assert engagement.next_contact_due is None


# --- R-PAR-5: re-plan and suspension at their meetings ---------------------------------------


def test_R_PAR_5_replan_at_B_returns_to_settling_in_or_matching(
    suzuki: SupportCase, sato: SupportCase
) -> None:
    """R-PAR-5, R-MTG-5 B: a re-plan approved at B continues settling in with the matched host,
    or goes back to matching when there is none yet."""
    with_host = settling_in(suzuki)
    version = with_host.draft_plan(PARTICIPATION, engagement_plan(host=True, goals=["週3日"]))
    assert with_host.state == "replanning"
    with_host.approve_replan(
        PARTICIPATION, service_meeting(suzuki, "participation", Timing.replan, version)
    )
    assert with_host.state == "settling_in"

    without_host = participation_in_matching(sato)
    version = without_host.draft_plan(PARTICIPATION, engagement_plan(host=True))
    without_host.approve_replan(
        PARTICIPATION, service_meeting(sato, "participation", Timing.replan, version)
    )
    assert without_host.state == "matching"


def test_R_PAR_5_R_SUS_2_suspension_at_D_needs_unanswered_follow_ups(suzuki: SupportCase) -> None:
    """R-PAR-5, R-SUS-1, R-SUS-2: suspension at meeting D only after follow-ups of the person
    that made no contact; a contact resets them; resumption needs contact restored."""
    engagement = settling_in(suzuki)
    version = engagement.current_plan["version"]
    meeting_d = service_meeting(suzuki, "participation", Timing.suspension, version)
    with refused(GateRefused, "contact_attempts_required", rules=("R-SUS-2",)):
        engagement.suspend(PARTICIPATION, meeting_d, "連絡が途絶")
    engagement.record_follow_up(PARTICIPATION, follow_up("person", contact_made=False))
    engagement.record_follow_up(PARTICIPATION, follow_up("person", contact_made=True))
    with refused(GateRefused, "contact_attempts_required"):
        engagement.suspend(PARTICIPATION, meeting_d, "連絡が途絶")
    engagement.record_follow_up(PARTICIPATION, follow_up("person", contact_made=False))
    engagement.suspend(PARTICIPATION, meeting_d, "連絡が途絶")
    assert engagement.state == "suspended"
    with refused(GateRefused, "contact_restoration_required"):
        engagement.resume(PARTICIPATION, "再開", "2026-11-01")
    engagement.resume(PARTICIPATION, "本人から連絡", "2026-11-01", "2026-10-30")
    assert engagement.state == "replanning"


def test_R_PAR_1_case_plan_must_include_early_participation(suzuki: SupportCase) -> None:
    """R-DEC-3: the case's plan after an early participation start includes it."""
    in_assessment(suzuki)
    early(suzuki, "participation", COORDINATOR)
    suzuki.complete_assessment(COORDINATOR, {"summary": "就労と住まい"})
    with refused(GateRefused, "plan_omits_early_start"):
        suzuki.draft_plan(COORDINATOR, plan(["outreach"]))
    assert suzuki.draft_plan(COORDINATOR, plan(["participation"])) == 1


def test_participation_workflow_definition_is_loaded_with_labels() -> None:
    """The definition in workflows/participation.yaml: Japanese labels, guards with codes."""
    wf = load_workflow("participation")
    assert wf.state_labels["closed"] == "終結（定期的な連絡）"
    assert wf.guards["connection_is_stable"].code == "connection_not_stable"
    assert "record_periodic_contact" in wf.allowed_commands("closed")


# --- review findings -------------------------------------------------------------------------


def test_R_PAR_1_R_SUS_1_no_start_on_the_decision_of_a_suspended_or_closed_case(
    suzuki: SupportCase, sato: SupportCase
) -> None:
    """R-PAR-1, R-SUS-1, R-END-4: the decision of a plan starts the service while the case is
    supported under it; a suspended or closed case keeps its plan's decision on record, but that
    is no basis to start (the case resumes first). The case is left untouched."""
    suspended(suzuki)
    with refused(CommandNotAllowed, "command_not_allowed", rules=("R-PAR-1",), case=suzuki):
        decided(suzuki, "participation")
    in_support(sato, ("participation",))
    sato.close_case(
        COORDINATOR,
        meeting_for(sato, Timing.closure, sato.current_plan["version"]),
        case_closure(),
    )
    assert sato.state == "closed"
    with refused(CommandNotAllowed, "command_not_allowed", rules=("R-PAR-1",), case=sato):
        decided(sato, "participation")


def test_R_PAR_4_after_resumption_closure_needs_the_connection_judged_stable_again(
    suzuki: SupportCase,
) -> None:
    """R-PAR-4: support resumes because things changed; the stability recorded before the
    closure does not carry over — the next closure needs a new follow-up judging it stable."""
    engagement = stable(suzuki)
    engagement.close(
        PARTICIPATION,
        service_meeting(suzuki, "participation", Timing.closure, 1),
        closure(),
    )
    engagement.resume(PARTICIPATION, "職場が変わった", "2027-02-01")
    assert engagement.connection_stable is False
    version = engagement.draft_plan(PARTICIPATION, engagement_plan(host=True))
    engagement.approve_replan(
        PARTICIPATION, service_meeting(suzuki, "participation", Timing.replan, version)
    )
    assert engagement.state == "settling_in"
    meeting_c = service_meeting(suzuki, "participation", Timing.closure, version)
    with refused(GateRefused, "connection_not_stable", rules=("R-PAR-4",)):
        engagement.close(PARTICIPATION, meeting_c, closure("2027-06-01"))
    engagement.record_follow_up(
        PARTICIPATION, follow_up("host", on="2027-04-01", connection_stable=True)
    )
    engagement.close(PARTICIPATION, meeting_c, closure("2027-06-01"))
    assert engagement.state == "closed"


def test_R_PAR_4_the_next_periodic_contact_lies_after_the_contact_and_the_closure(
    suzuki: SupportCase,
) -> None:
    """R-PAR-4: periodic contact keeps the relationship up: the next contact is due after the
    one recorded, and the first one after the closure meeting; a date in the past is refused."""
    engagement = stable(suzuki)
    meeting_c = service_meeting(suzuki, "participation", Timing.closure, 1)
    assert meeting_c.held_on is not None
    with refused(GateRefused, "next_contact_due_required", rules=("R-PAR-4",)):
        engagement.close(PARTICIPATION, meeting_c, closure(meeting_c.held_on))
    engagement.close(PARTICIPATION, meeting_c, closure("2099-12-01"))
    for due in ("2026-11-30", "2026-12-01"):
        with refused(GateRefused, "next_contact_due_required", rules=("R-PAR-4",)):
            engagement.record_periodic_contact(
                PARTICIPATION, {"on": "2026-12-01", "contact_made": True, "next_contact_due": due}
            )
    engagement.record_periodic_contact(
        PARTICIPATION, {"on": "2026-12-01", "contact_made": True, "next_contact_due": "2027-03-01"}
    )
    assert engagement.next_contact_due == "2027-03-01"


def test_R_PAR_3_a_payment_period_ends_after_it_starts(suzuki: SupportCase) -> None:
    """R-PAR-3: an actual-cost payment covers a period whose last day is not before its first."""
    engagement = settling_in(suzuki)
    with refused(RuleViolation, "invalid_payment_period", rules=("R-PAR-3",)):
        engagement.pay_cost(
            PARTICIPATION, {**payment(), "period_from": "2026-08-01", "period_to": "2026-07-31"}
        )
    assert engagement.payments == []
    engagement.pay_cost(PARTICIPATION, {**payment(), "period_to": "2026-07-01"})
    assert len(engagement.payments) == 1
