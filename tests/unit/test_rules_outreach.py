"""Outreach support (アウトリーチ等を通じた継続的支援事業): R-OUT-1..4, R-DEC-3, R-SUS-2."""

from __future__ import annotations

import pytest

from service.application.engagements import _consented
from service.domain.case import SupportCase
from service.domain.engagement import (
    CONTACT_ATTEMPTS,
    OutreachActivity,
    ServiceEngagement,
    engagement_id,
)
from service.domain.errors import CommandNotAllowed, GateRefused, RuleViolation
from service.domain.meeting import Meeting
from service.domain.values import MeetingKind, Timing
from service.domain.workflow import load_workflow
from tests.unit.engagement_support import (
    activity,
    decided,
    early,
    engagement_plan,
    outreach_in_support,
    service_meeting,
)
from tests.unit.support import (
    CITY,
    COORDINATOR,
    OUTREACH,
    application,
    evidence,
    hold_meeting,
    in_planning,
    in_support,
    item,
    meeting_for,
    plan,
    refused,
    sharing_consent,
)


def on_council_track(case: SupportCase) -> SupportCase:
    """A case without consent, put on the support-council track (R-CON-2)."""
    case.refer_to_council(CITY, "本人・家族の同意がまだ得られない")
    return case


# --- R-DEC-3 / R-OUT-3: starting early, before consent ------------------------------------------


def test_R_OUT_3_R_DEC_3_outreach_starts_early_before_consent_on_the_council_track(
    hoarding_couple: SupportCase,
) -> None:
    """R-OUT-3, R-DEC-3: on the council track outreach starts early with its reason; the early
    start is recorded on the case too, and the engagement knows it started before consent."""
    on_council_track(hoarding_couple)
    engagement = early(hoarding_couple, "outreach")
    assert engagement.state == "reaching_out"
    assert engagement.start["basis"] == "early_start"
    assert engagement.start["pre_consent"] is True
    assert hoarding_couple.early_starts == [
        {
            "service": "outreach",
            "reason": "長期のひきこもりで早期の関わりが必要",
            "started_on": "2026-04-10",
            "before_consent": True,  # on the council track (R-OUT-3)
        }
    ]
    assert engagement.id == engagement_id(str(hoarding_couple.id), "outreach")
    assert engagement.case_id == str(hoarding_couple.id)


def test_R_DEC_3_early_start_needs_a_reason(hoarding_couple: SupportCase) -> None:
    """R-DEC-3: an early start without a reason is refused; the case is left untouched."""
    on_council_track(hoarding_couple)
    with refused(
        GateRefused, "early_start_reason_required", rules=("R-DEC-3",), case=hoarding_couple
    ):
        ServiceEngagement.begin(OUTREACH, hoarding_couple, "outreach", "early_start", " ", "d")


def test_R_DEC_3_no_early_start_from_a_fresh_referral(hoarding_couple: SupportCase) -> None:
    """R-DEC-3: a referral not yet on the council track or in assessment cannot start early."""
    with pytest.raises(CommandNotAllowed) as exc:
        early(hoarding_couple, "outreach")
    assert "refer_to_council" in exc.value.allowed_commands


def test_R_DEC_3_the_next_plan_must_include_the_early_started_outreach(
    yamada: SupportCase,
) -> None:
    """R-DEC-3: after an early start the case's plan must include outreach."""
    in_planning(yamada)
    early(yamada, "outreach")
    with refused(GateRefused, "plan_omits_early_start", rules=("R-DEC-3",), case=yamada):
        yamada.draft_plan(COORDINATOR, plan())
    assert yamada.draft_plan(COORDINATOR, plan(["outreach"])) == 1


def test_R_DEC_1_start_on_decision_needs_the_granted_support_decision(
    yamada: SupportCase, sato: SupportCase
) -> None:
    """R-DEC-1, R-PAR-1: starting on the basis of the decision needs the plan in effect to use
    outreach with a granted decision; a plan without it is refused with its code."""
    in_support(sato)  # plan without outreach/participation
    with refused(GateRefused, "support_decision_required", rules=("R-DEC-1",)):
        decided(sato, "outreach")
    in_support(yamada, ("outreach",))
    engagement = decided(yamada, "outreach")
    assert engagement.start["basis"] == "support_decision"
    assert engagement.start["pre_consent"] is False
    assert yamada.early_starts == []


def test_unknown_service_and_basis_are_refused(yamada: SupportCase) -> None:
    """Only outreach and participation, started on a decision or early."""
    with refused(RuleViolation, "unknown_service"):
        ServiceEngagement.begin(OUTREACH, yamada, "housing", "early_start", "r", "d")
    with refused(RuleViolation, "unknown_start_basis"):
        ServiceEngagement.begin(OUTREACH, yamada, "outreach", "whim", "r", "d")


# --- R-OUT-2: the activity log ----------------------------------------------------------------


@pytest.mark.parametrize("kind", [k.value for k in OutreachActivity])
def test_R_OUT_2_every_activity_kind_is_recorded(hoarding_couple: SupportCase, kind: str) -> None:
    """R-OUT-2: information gathering, prior coordination, relationship building, home and
    accompanied visits, each with date, agency, outcome and whether contact was made."""
    engagement = early(on_council_track(hoarding_couple), "outreach")
    activity_id = engagement.record_activity(
        OUTREACH, activity(kind, outcome="letter_left"), person_consented=False
    )
    assert activity_id == "activity-1"
    assert engagement.activities[0] == {
        "activity_id": "activity-1",
        "kind": kind,
        "on": "2026-04-12",
        "agency_id": OUTREACH.agency_id,
        "outcome": "letter_left",
        "contact_made": False,
        "person_id": "person",
        "notes": None,
        "before_consent": True,
    }


def test_R_OUT_2_unknown_activity_or_outcome_is_refused(hoarding_couple: SupportCase) -> None:
    """R-OUT-2: activities and outcomes come from their vocabularies."""
    engagement = early(on_council_track(hoarding_couple), "outreach")
    with refused(RuleViolation, "invalid_kind", rules=("R-OUT-2",)):
        engagement.record_activity(OUTREACH, activity("chat"), person_consented=False)
    with refused(RuleViolation, "invalid_outcome", rules=("R-OUT-3",)):
        engagement.record_activity(OUTREACH, activity(outcome="seemed sad"), person_consented=False)
    assert engagement.activities == []


# --- R-OUT-3: the council track's limits --------------------------------------------------------


def test_R_OUT_3_notes_before_consent_are_refused(hoarding_couple: SupportCase) -> None:
    """R-OUT-3, R-CON-2: before consent only structured facts; free-text notes are refused with
    `record_exceeds_council_track`, and nothing is recorded."""
    engagement = early(on_council_track(hoarding_couple), "outreach")
    with refused(GateRefused, "record_exceeds_council_track", rules=("R-OUT-3", "R-CON-2")) as exc:
        engagement.record_activity(
            OUTREACH, activity(notes={"sealed": "..."}), person_consented=False
        )
    assert "record_activity" in exc.value.allowed_commands
    assert engagement.activities == []
    assert engagement.version == 1


def test_R_OUT_3_notes_are_allowed_once_the_person_consented(yamada: SupportCase) -> None:
    """R-OUT-3: with the application for use (and, for a household member, their consent) the
    activity may carry notes; the record says it was made after consent."""
    engagement = outreach_in_support(yamada)
    engagement.record_activity(
        OUTREACH, activity("relationship_building", notes={"sealed": "x"}), person_consented=True
    )
    assert engagement.activities[-1]["notes"] == {"sealed": "x"}
    assert engagement.activities[-1]["before_consent"] is False


# --- R-SUS-2: attempts to reach the person --------------------------------------------------------


def test_R_SUS_2_visits_and_inquiries_without_contact_count_as_attempts(
    hoarding_couple: SupportCase,
) -> None:
    """R-SUS-2: home and accompanied visits and information gathering without contact count as
    attempts since the last contact; prior coordination and relationship building do not; a
    contact resets the count."""
    engagement = early(on_council_track(hoarding_couple), "outreach")
    assert {"home_visit", "accompanied_visit", "information_gathering"} == CONTACT_ATTEMPTS
    for kind in ("home_visit", "information_gathering", "prior_coordination", "home_visit"):
        engagement.record_activity(OUTREACH, activity(kind), person_consented=False)
    assert engagement.attempts_since_contact == 3
    engagement.record_activity(
        OUTREACH,
        activity("home_visit", contact_made=True, outcome="talked_through_door"),
        person_consented=False,
    )
    assert engagement.attempts_since_contact == 0
    engagement.record_activity(OUTREACH, activity("accompanied_visit"), person_consented=False)
    assert engagement.attempts_since_contact == 1


def test_R_SUS_2_outreach_attempts_let_the_case_be_suspended(suzuki: SupportCase) -> None:
    """R-SUS-2, R-SUS-1: the case's suspension gate counts the outreach attempts; without any
    attempt (the case's or the outreach's) the suspension is refused."""
    in_support(suzuki, ("outreach",))
    version = suzuki.current_plan["version"]
    with refused(GateRefused, "contact_attempts_required", rules=("R-SUS-2",), case=suzuki):
        suzuki.suspend_case(COORDINATOR, meeting_for(suzuki, Timing.suspension, version), "途絶", 0)
    suzuki.suspend_case(
        COORDINATOR,
        meeting_for(suzuki, Timing.suspension, version),
        "連絡が完全に途絶",
        outreach_attempts=3,
    )
    assert suzuki.state == "suspended"


# --- R-OUT-4: plan, re-plan, closure and suspension through the four meetings -----------------


def test_R_OUT_4_plan_needs_goals_policy_roles_and_monitoring(yamada: SupportCase) -> None:
    """R-OUT-4, R-PLN-1: an incomplete outreach plan is refused with `plan_incomplete`."""
    engagement = early(in_planning(yamada), "outreach")
    for missing in ("goals", "policy", "roles", "monitoring_dates"):
        incomplete = {**engagement_plan(), missing: [] if missing != "policy" else " "}
        with refused(GateRefused, "plan_incomplete", rules=("R-OUT-4", "R-PLN-1")):
            engagement.draft_plan(OUTREACH, incomplete)
    assert engagement.plans == []


def test_R_OUT_4_plan_takes_effect_only_at_its_own_meeting_A(yamada: SupportCase) -> None:
    """R-OUT-4, R-MTG-5: the outreach plan takes effect at a layered support meeting whose agenda
    item for outreach approved that plan version at timing A; the coordination item of the same
    case does not count, nor a case conference, nor the same meeting twice."""
    engagement = early(in_planning(yamada), "outreach")
    with refused(GateRefused, "no_draft_plan"):
        engagement.approve_plan(OUTREACH, service_meeting(yamada, "outreach", Timing.plan, 1))
    version = engagement.draft_plan(OUTREACH, engagement_plan())
    coordination_item = meeting_for(yamada, Timing.plan, version)
    with refused(GateRefused, "meeting_gate_not_met", rules=("R-OUT-4", "R-MTG-5")):
        engagement.approve_plan(OUTREACH, coordination_item)
    with refused(GateRefused, "meeting_gate_not_met"):
        engagement.approve_plan(OUTREACH, service_meeting(yamada, "outreach", Timing.replan, 1))
    with refused(GateRefused, "meeting_not_layered_support_meeting"):
        engagement.approve_plan(
            OUTREACH, evidence(kind=MeetingKind.case_conference, meeting_id="cc")
        )
    with refused(GateRefused, "meeting_missing_mandatory_participants", rules=("R-MTG-2",)):
        engagement.approve_plan(OUTREACH, evidence(roles=()))
    meeting_a = service_meeting(yamada, "outreach", Timing.plan, version)
    assert engagement.approve_plan(OUTREACH, meeting_a) == 1
    assert engagement.state == "in_support"
    assert engagement.current_plan["meeting_id"] == meeting_a.meeting_id
    assert engagement.current_plan["timing"] == "plan"


def test_R_OUT_4_replan_closure_and_suspension_pass_their_meetings(yamada: SupportCase) -> None:
    """R-OUT-4, R-MTG-5 B/C/D: a re-plan at B, suspension at D only with attempts recorded,
    resumption only with contact restored, closure at C — each with the outreach agenda item."""
    engagement = outreach_in_support(yamada)
    assert engagement.draft_plan(OUTREACH, engagement_plan(goals=["同行受診"])) == 2
    assert engagement.state == "replanning"
    meeting_a_reused = engagement.meeting_ids[0]
    with refused(GateRefused, "meeting_already_used"):
        engagement.approve_replan(
            OUTREACH,
            evidence(timing=Timing.replan, plan_version=2, meeting_id=meeting_a_reused),
        )
    engagement.approve_replan(OUTREACH, service_meeting(yamada, "outreach", Timing.replan, 2))
    assert engagement.state == "in_support"
    assert [p["status"] for p in engagement.plans] == ["superseded", "in_effect"]

    meeting_d = service_meeting(yamada, "outreach", Timing.suspension, 2)
    with refused(GateRefused, "contact_attempts_required", rules=("R-SUS-2",)):
        engagement.suspend(OUTREACH, meeting_d, "連絡が途絶")
    engagement.record_activity(OUTREACH, activity("home_visit"), person_consented=True)
    engagement.suspend(OUTREACH, meeting_d, "連絡が途絶")
    assert engagement.state == "suspended"
    with refused(GateRefused, "contact_restoration_required", rules=("R-SUS-3",)):
        engagement.resume(OUTREACH, "再開", "2026-10-01")
    engagement.resume(OUTREACH, "本人から連絡", "2026-10-01", contact_restored_on="2026-09-30")
    assert engagement.state == "replanning"
    assert engagement.draft_plan(OUTREACH, engagement_plan(goals=["外出の習慣"])) == 3
    engagement.approve_replan(OUTREACH, service_meeting(yamada, "outreach", Timing.replan, 3))

    with refused(GateRefused, "meeting_gate_not_met"):
        engagement.close(OUTREACH, service_meeting(yamada, "outreach", Timing.closure, 2), {})
    engagement.close(
        OUTREACH,
        service_meeting(yamada, "outreach", Timing.closure, 3),
        {"evaluation": "参加支援へつないだ"},
    )
    assert engagement.state == "closed"
    with pytest.raises(CommandNotAllowed) as exc:
        engagement.record_activity(OUTREACH, activity(), person_consented=True)
    assert exc.value.allowed_commands == ("resume_engagement",)


# --- R-MTG-7: one agenda item per case and service --------------------------------------------


def test_R_MTG_7_one_meeting_decides_a_cases_plan_and_its_outreach_plan(
    yamada: SupportCase,
) -> None:
    """R-MTG-7, R-OUT-4: a meeting may take the coordination plan and the outreach plan of the
    same case as two agenda items, each its own decision; the same (case, service) twice is
    refused, and an item without a service is about coordination."""
    case_id = str(yamada.id)
    both = [
        item(yamada, Timing.plan, 1),
        {**item(yamada, Timing.plan, 1), "service": "outreach", "outcome": "deferred"},
    ]
    meeting = hold_meeting(both)
    assert meeting.case_ids == [case_id]
    assert meeting.evidence_for(case_id).approved(Timing.plan, 1)
    assert meeting.evidence_for(case_id, "coordination").approved(Timing.plan, 1)
    assert not meeting.evidence_for(case_id, "outreach").approved(Timing.plan, 1)
    assert meeting.evidence_for(case_id, "participation").decision is None
    with refused(RuleViolation, "duplicate_agenda_item", rules=("R-MTG-7",)):
        hold_meeting([both[1], {**both[1], "outcome": "approved"}])
    with refused(RuleViolation, "invalid_agenda_item"):
        hold_meeting([{**both[0], "service": "housing"}])


def test_R_OUT_4_plan_version_refers_to_the_services_own_plans(yamada: SupportCase) -> None:
    """R-OUT-4, R-MTG-5: an outreach item's plan version is checked against the outreach plans,
    not the case's."""
    case_id = str(yamada.id)
    agenda = [{**item(yamada, Timing.plan, 2), "service": "outreach"}]

    def record(counts: dict) -> Meeting:
        return Meeting.record(
            COORDINATOR,
            kind=MeetingKind.layered_support_meeting,
            held_on="2026-06-10",
            meeting_format="online",
            participants=[
                {"agency_id": COORDINATOR.agency_id, "role": "coordinator"},
                {"agency_id": CITY.agency_id, "role": "municipality"},
            ],
            agenda=agenda,
            consented_case_ids={case_id},
            plan_counts=counts,
        )

    with refused(RuleViolation, "plan_version_unknown"):
        record({case_id: 2, (case_id, "outreach"): 1})
    assert record({case_id: 0, (case_id, "outreach"): 2}).evidence_for(case_id, "outreach")


def test_R_OUT_3_R_CON_5_who_counts_as_consented_for_notes(yamada: SupportCase) -> None:
    """R-OUT-3, R-CON-5: notes about the person need the application for use; notes about a
    household member need that member's own consent as well."""
    assert not _consented(yamada, "person")
    yamada.give_consent(COORDINATOR, application())
    assert _consented(yamada, "person")
    assert not _consented(yamada, "member-1")
    yamada.give_consent(COORDINATOR, sharing_consent("member-1"))
    assert _consented(yamada, "member-1")


def test_outreach_workflow_definition_is_loaded_with_labels() -> None:
    """The definition in workflows/outreach.yaml: Japanese labels, guards with codes."""
    wf = load_workflow("outreach")
    assert wf.initial == "reaching_out"
    assert wf.state_labels["reaching_out"] == "アウトリーチ（プラン作成前）"
    assert wf.guards["record_within_council_track"].code == "record_exceeds_council_track"
    assert "R-OUT-3" in wf.guards["record_within_council_track"].rules


def test_R_OUT_1_outreach_builds_connection_over_time(hoarding_couple: SupportCase) -> None:
    """R-OUT-1: outreach is for people support does not reach; it keeps building the connection
    over months — letters, inquiries, visits — with no end forced on it, every step in order."""
    engagement = early(on_council_track(hoarding_couple), "outreach")
    months = [f"2026-{m:02d}-10" for m in range(5, 12)]
    kinds = ["prior_coordination", "information_gathering", "home_visit", "home_visit"]
    kinds += ["relationship_building", "accompanied_visit", "home_visit"]
    for on, kind in zip(months, kinds, strict=True):
        engagement.record_activity(
            OUTREACH,
            activity(kind, on=on, contact_made=kind == "home_visit" and on == "2026-11-10"),
            person_consented=False,
        )
    assert [a["on"] for a in engagement.activities] == months
    assert [a["activity_id"] for a in engagement.activities][-1] == "activity-7"
    assert engagement.state == "reaching_out"
    assert engagement.attempts_since_contact == 0  # the last visit made contact
    assert "record_activity" in engagement.allowed_commands


def test_R_SUS_2_attempts_after_the_cases_own_last_contact(hoarding_couple: SupportCase) -> None:
    """R-SUS-2: only attempts after the last contact count, the outreach's or the case's."""
    engagement = early(on_council_track(hoarding_couple), "outreach")
    for on in ("2026-05-01", "2026-05-08", "2026-05-15"):
        engagement.record_activity(OUTREACH, activity(on=on), person_consented=False)
    assert engagement.attempts_after(None) == 3
    assert engagement.attempts_after("2026-05-08") == 1
    assert engagement.attempts_after("2026-05-15") == 0
