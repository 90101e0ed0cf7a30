"""Support, closure and suspension: R-SUP-1, R-END-1 .. R-END-4, R-SUS-1 .. R-SUS-3."""

from __future__ import annotations

import pytest

from service.domain.case import SupportCase
from service.domain.errors import GateRefused
from service.domain.values import MeetingKind, Timing
from tests.unit import support
from tests.unit.support import (
    CENTER,
    COORDINATOR,
    OUTREACH,
    PARTICIPATION,
    SELF_RELIANCE,
    not_allowed,
    refused,
)


def test_R_SUP_1_monitoring_and_contacts_are_recorded_during_support(sato: SupportCase) -> None:
    """R-SUP-1: support runs by the plan; monitoring and contact are recorded with dates."""
    support.in_support(sato)
    record = {"on": "2026-07-01", "by": "jiritsu-soudan", "summary": "家賃滞納が解消に向かう"}
    sato.record_monitoring(SELF_RELIANCE, record)
    sato.record_contact_attempt(CENTER, support.reached("2026-07-02", "office_visit"))
    assert sato.state == "in_support"
    assert sato.monitoring == [record]
    assert sato.contacts[-1]["on"] == "2026-07-02"
    assert support.event_names(sato)[-2:] == ["MonitoringRecorded", "ContactAttemptRecorded"]


def test_R_SUP_1_monitoring_needs_a_plan_in_effect(sato: SupportCase) -> None:
    """R-SUP-1: monitoring follows the plan; during planning it is not allowed."""
    support.in_planning(sato)
    with not_allowed(sato):
        sato.record_monitoring(COORDINATOR, {"on": "2026-06-01"})


def test_R_END_1_closure_at_meeting_C(sato: SupportCase) -> None:
    """R-END-1: 佐藤ミキ's coordination ends at a closure meeting (C) with agreed roles."""
    support.in_support(sato)
    meeting = support.meeting_for(sato, Timing.closure, 1)
    sato.close_case(COORDINATOR, meeting, support.closure(SELF_RELIANCE, hand_back=None))
    assert sato.state == "closed"
    assert sato.closure["meeting_id"] == meeting.meeting_id
    assert sato.closure["lead_agency_id"] == SELF_RELIANCE.agency_id
    assert meeting.meeting_id in sato.meeting_ids
    assert support.event_names(sato)[-1] == "CaseClosed"


def test_R_END_1_closure_from_planning_is_not_allowed(sato: SupportCase) -> None:
    """R-END-1: a case in planning cannot be closed; command_not_allowed lists what can be done."""
    support.in_planning(sato)
    sato.draft_plan(COORDINATOR, support.plan())
    with not_allowed(sato) as exc:
        sato.close_case(
            COORDINATOR, support.meeting_for(sato, Timing.closure, 1), support.closure()
        )
    assert exc.value.code == "command_not_allowed"
    assert set(exc.value.allowed_commands) == {
        "give_consent",
        "withdraw_consent",
        "record_early_start",
        "record_contact_attempt",
        "draft_plan",
        "approve_plan",
    }


def test_R_END_1_closure_with_a_case_conference_is_refused(sato: SupportCase) -> None:
    """R-END-1, R-MTG-6: closure is decided at a layered support meeting, not a case conference."""
    support.in_support(sato)
    conference = support.evidence(kind=MeetingKind.case_conference, timing=Timing.closure)
    with refused(GateRefused, "meeting_not_layered_support_meeting", case=sato):
        sato.close_case(COORDINATOR, conference, support.closure())


@pytest.mark.parametrize("lead", [OUTREACH, PARTICIPATION, None], ids=["outreach", "other", "none"])
def test_R_END_2_closure_with_lead_agency_not_in_plan_is_refused(sato: SupportCase, lead) -> None:
    """R-END-2: the lead agency is chosen from the agencies of the plan."""
    support.in_support(sato)
    record = support.closure(lead or CENTER)
    if lead is None:
        record["lead_agency_id"] = None
    with refused(GateRefused, "lead_agency_not_in_plan", rules=["R-END-2"], case=sato):
        sato.close_case(COORDINATOR, support.meeting_for(sato, Timing.closure, 1), record)


def test_R_END_2_follow_up_is_recorded_with_the_lead_agency(yamada: SupportCase) -> None:
    """R-END-2: 山田ハナ: lead agency the 地域包括支援センター, follow-up quarterly."""
    support.closed(yamada)
    assert yamada.closure["lead_agency_id"] == CENTER.agency_id
    assert yamada.closure["follow_up"] == {"needed": True, "method": "四半期ごとの訪問"}


@pytest.mark.parametrize("hand_back_to", [OUTREACH, COORDINATOR], ids=str)
def test_R_END_3_hand_back_to_non_comprehensive_consultation_is_refused(
    sato: SupportCase, hand_back_to
) -> None:
    """R-END-3: the hand-back (つなぎもどし) goes to a comprehensive consultation provider."""
    support.in_support(sato)
    with refused(
        GateRefused,
        "hand_back_not_to_comprehensive_consultation",
        rules=["R-END-3"],
        case=sato,
    ):
        sato.close_case(
            COORDINATOR,
            support.meeting_for(sato, Timing.closure, 1),
            support.closure(CENTER, hand_back=hand_back_to),
        )


def test_R_END_3_hand_back_to_the_center_is_recorded(yamada: SupportCase) -> None:
    """R-END-3: 山田ハナ is handed back to the 地域包括支援センター at closure."""
    support.closed(yamada)
    assert yamada.closure["hand_back"] == {
        "agency_id": CENTER.agency_id,
        "agency_kind": "community_general_support_center",
    }


def test_R_END_4_closed_case_resumes_promptly_into_replanning(yamada: SupportCase) -> None:
    """R-END-4: after closure, coordination resumes when the person's state changes."""
    support.closed(yamada)
    yamada.resume_case(COORDINATOR, "ハナが入院、タロウが一人に", "2027-02-01")
    assert yamada.state == "replanning"
    assert yamada.resumptions == [
        {
            "from_state": "closed",
            "reason": "ハナが入院、タロウが一人に",
            "resumed_on": "2027-02-01",
            "contact_restored_on": None,
        }
    ]
    assert yamada.current_plan["version"] == 1


def test_R_END_4_resume_after_closure_needs_the_application(yamada: SupportCase) -> None:
    """R-END-4, R-INT-2: a closed case whose application was withdrawn does not resume."""
    support.closed(yamada)
    yamada.withdraw_consent(COORDINATOR, "consent-1", "2027-01-10")
    assert yamada.state == "closed"
    with refused(GateRefused, "consent_required", case=yamada):
        yamada.resume_case(COORDINATOR, "再相談", "2027-02-01")


def test_R_END_4_closed_case_allows_only_resumption_and_consents(yamada: SupportCase) -> None:
    """R-END-4: a closed case is not supported, monitored or re-planned until it resumes."""
    support.closed(yamada)
    with not_allowed(yamada):
        yamada.start_replan(COORDINATOR, "再開")
    with not_allowed(yamada):
        yamada.record_monitoring(COORDINATOR, {"on": "2027-01-01"})


def test_R_SUS_1_suspension_at_meeting_D_after_contact_is_lost(suzuki: SupportCase) -> None:
    """R-SUS-1: 鈴木ケン: no answer after calls and visits; suspension decided at meeting D."""
    support.suspended(suzuki)
    assert suzuki.state == "suspended"
    assert suzuki.suspension["reason"] == "連絡が完全に途絶"
    assert suzuki.suspension["meeting_id"] in suzuki.meeting_ids
    assert support.event_names(suzuki)[-1] == "CaseSuspended"


def test_R_SUS_1_suspension_from_planning_is_not_allowed(suzuki: SupportCase) -> None:
    """R-SUS-1: suspension is a decision on a case under support (or being re-planned)."""
    support.in_planning(suzuki)
    suzuki.record_contact_attempt(COORDINATOR, support.unreached())
    with not_allowed(suzuki):
        suzuki.suspend_case(COORDINATOR, support.meeting_for(suzuki, Timing.suspension, 1), "途絶")


def test_R_SUS_1_suspension_during_replanning(suzuki: SupportCase) -> None:
    """R-SUS-1: contact may also be lost while the plan is being revised."""
    support.in_replanning(suzuki, ["participation"])
    suzuki.record_contact_attempt(COORDINATOR, support.unreached())
    suzuki.suspend_case(COORDINATOR, support.meeting_for(suzuki, Timing.suspension, 1), "途絶")
    assert suzuki.state == "suspended"


def test_R_SUS_2_suspension_without_contact_attempts_is_refused(suzuki: SupportCase) -> None:
    """R-SUS-2: a suspension with no recorded attempt to reach the person is refused."""
    support.in_support(suzuki, ["participation"])
    with refused(
        GateRefused,
        "contact_attempts_required",
        rules=["R-SUS-2", "R-SUS-1"],
        case=suzuki,
    ):
        suzuki.suspend_case(COORDINATOR, support.meeting_for(suzuki, Timing.suspension, 1), "途絶")


def test_R_SUS_2_attempts_followed_by_a_reached_contact_do_not_count(suzuki: SupportCase) -> None:
    """R-SUS-2: once the person was reached, earlier failed attempts do not justify suspension."""
    support.in_support(suzuki, ["participation"])
    suzuki.record_contact_attempt(COORDINATOR, support.unreached("2026-08-01"))
    suzuki.record_contact_attempt(COORDINATOR, support.reached("2026-08-03"))
    meeting = support.meeting_for(suzuki, Timing.suspension, 1)
    with refused(GateRefused, "contact_attempts_required", case=suzuki):
        suzuki.suspend_case(COORDINATOR, meeting, "途絶")
    suzuki.record_contact_attempt(COORDINATOR, support.unreached("2026-09-01", "home_visit"))
    suzuki.suspend_case(COORDINATOR, meeting, "途絶")
    assert suzuki.state == "suspended"


def test_R_SUS_3_resume_after_suspension_needs_contact_restored_on(suzuki: SupportCase) -> None:
    """R-SUS-3: a suspended case resumes when contact is restored, and only then."""
    support.suspended(suzuki)
    for missing in (None, "", "  "):
        with refused(GateRefused, "contact_restoration_required", rules=["R-SUS-3"], case=suzuki):
            suzuki.resume_case(
                COORDINATOR, "本人から電話", "2026-12-01", contact_restored_on=missing
            )
    suzuki.resume_case(COORDINATOR, "本人から電話", "2026-12-01", contact_restored_on="2026-12-01")
    assert suzuki.state == "replanning"
    assert suzuki.suspension is None
    assert suzuki.resumptions[-1]["from_state"] == "suspended"
    assert suzuki.resumptions[-1]["contact_restored_on"] == "2026-12-01"


def test_R_SUS_3_resumed_case_is_reassessed_and_replanned(suzuki: SupportCase) -> None:
    """R-SUS-3: 鈴木ケン calls four months later: new assessment, re-plan at meeting B."""
    support.suspended(suzuki)
    suzuki.resume_case(COORDINATOR, "本人から電話", "2026-12-01", contact_restored_on="2026-12-01")
    suzuki.complete_assessment(COORDINATOR, {"summary": "住居は確保、就労体験を再開したい"})
    version = suzuki.draft_plan(COORDINATOR, support.plan(["participation"]))
    suzuki.approve_replan(COORDINATOR, support.meeting_for(suzuki, Timing.replan, version))
    assert suzuki.state == "awaiting_decision"
    suzuki.decide_support(support.CITY, granted=True, reason="", decided_on="2026-12-20")
    assert suzuki.state == "in_support"
    assert suzuki.current_plan["version"] == 2
