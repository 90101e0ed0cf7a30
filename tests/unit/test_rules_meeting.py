"""The layered support meeting (重層的支援会議): R-MTG-1 .. R-MTG-7."""

from __future__ import annotations

import pytest

from service.domain.case import SupportCase
from service.domain.errors import GateRefused, RuleViolation
from service.domain.meeting import Meeting
from service.domain.values import MeetingKind, Outcome, Role, Timing
from tests.unit import support
from tests.unit.support import (
    CENTER,
    CITY,
    COORDINATOR,
    MANDATORY,
    OUTREACH,
    SELF_RELIANCE,
    participant,
    refused,
)


@pytest.mark.parametrize("host", [CITY, CENTER, OUTREACH], ids=lambda a: str(a.role))
def test_R_MTG_1_layered_meeting_hosted_by_non_coordinator_is_refused(
    yamada: SupportCase, host
) -> None:
    """R-MTG-1: the coordinator hosts the layered support meeting; no one else."""
    with refused(RuleViolation, "meeting_host_must_be_coordinator", rules=["R-MTG-1"]):
        support.hold_meeting([support.item(yamada, Timing.none, None, "noted")], host=host)


def test_R_MTG_1_coordinator_hosts_and_is_recorded_as_host(yamada: SupportCase) -> None:
    """R-MTG-1: the meeting records its host, the coordinator."""
    meeting = support.hold_meeting([support.item(yamada, Timing.none, None, "noted")])
    assert meeting.host == COORDINATOR.as_dict()
    assert meeting.kind == "layered_support_meeting"


@pytest.mark.parametrize(
    "participants",
    [
        [participant(COORDINATOR), participant(CENTER)],
        [participant(COORDINATOR), participant(CITY, attended=False), participant(CENTER)],
        [participant(CITY), participant(CENTER)],
        [participant(COORDINATOR, attended=False), participant(CITY)],
    ],
    ids=["no-municipality", "municipality-absent", "no-coordinator", "coordinator-absent"],
)
def test_R_MTG_2_layered_meeting_without_municipality_or_coordinator_is_refused(
    yamada: SupportCase, participants: list[dict]
) -> None:
    """R-MTG-2: the municipality and the coordinator attend every layered support meeting."""
    with refused(RuleViolation, "meeting_missing_mandatory_participants", rules=["R-MTG-2"]):
        support.hold_meeting(
            [support.item(yamada, Timing.none, None, "noted")], participants=participants
        )


def test_R_MTG_2_participants_may_differ_between_meetings(yamada: SupportCase) -> None:
    """R-MTG-2: beyond the two mandatory parties, participants vary; the person may attend."""
    small = support.hold_meeting(
        [support.item(yamada, Timing.none, None, "noted")], participants=MANDATORY
    )
    large = support.hold_meeting(
        [support.item(yamada, Timing.none, None, "noted")], person_attended=True
    )
    assert len(small.participants) == 2
    assert len(large.participants) == 5
    assert large.person_attended
    assert small.evidence_for(str(yamada.id)).has_mandatory_participants


def test_R_MTG_2_gate_refuses_evidence_without_the_municipality(sato: SupportCase) -> None:
    """R-MTG-2: the plan gate itself refuses a meeting the municipality did not attend."""
    support.in_planning(sato)
    sato.draft_plan(COORDINATOR, support.plan())
    no_city = support.evidence(roles=[Role.coordinator, Role.community_general_support_center])
    with refused(
        GateRefused, "meeting_missing_mandatory_participants", rules=["R-MTG-2"], case=sato
    ):
        sato.approve_plan(COORDINATOR, no_city)


def test_R_MTG_3_resource_shortage_is_recorded_as_community_issue(yamada: SupportCase) -> None:
    """R-MTG-3: role C: a shortage of social resources is recorded; not every role is played."""
    shortage = "平日日中に成人男性の居場所がない"
    meeting = support.hold_meeting(
        [support.item(yamada, Timing.none, None, "noted")], resource_shortages=[shortage]
    )
    assert meeting.resource_shortages == [shortage]
    # an item with role C only carries no gate decision for the case
    assert not meeting.evidence_for(str(yamada.id)).approved(Timing.plan, None)


@pytest.mark.parametrize("meeting_format", ["in_person", "online"])
def test_R_MTG_4_meeting_may_be_online_and_reuse_an_existing_council(
    sato: SupportCase, meeting_format: str
) -> None:
    """R-MTG-4: in person or online, and reusing e.g. the 支援調整会議 with its time set apart."""
    support.in_planning(sato)
    version = sato.draft_plan(COORDINATOR, support.plan())
    meeting = Meeting.record(
        COORDINATOR,
        kind=MeetingKind.layered_support_meeting,
        held_on="2026-06-10",
        meeting_format=meeting_format,
        participants=support.REGULAR_MEETING,
        agenda=[support.item(sato, Timing.plan, version)],
        consented_case_ids={str(sato.id)},
        reused_council="支援調整会議",
        title="第3回重層的支援会議",
    )
    assert meeting.meeting_format == meeting_format
    assert meeting.reused_council == "支援調整会議"
    sato.approve_plan(COORDINATOR, meeting.evidence_for(str(sato.id)))
    assert sato.state == "in_support"


@pytest.mark.parametrize(
    ("timing", "version_offset", "outcome"),
    [
        (Timing.replan, 0, "approved"),
        (Timing.closure, 0, "approved"),
        (Timing.plan, 1, "approved"),
        (Timing.plan, 0, "deferred"),
        (Timing.plan, 0, "not_approved"),
        (Timing.plan, 0, "noted"),
    ],
    ids=["wrong-timing-B", "wrong-timing-C", "other-plan-version", "deferred", "refused", "noted"],
)
def test_R_MTG_5_plan_gate_needs_meeting_A_approving_this_plan_version(
    sato: SupportCase, timing: Timing, version_offset: int, outcome: str
) -> None:
    """R-MTG-5 (A): the plan is adopted only by a meeting approving this version at timing A."""
    support.in_planning(sato)
    version = sato.draft_plan(COORDINATOR, support.plan())
    meeting = support.meeting_for(sato, timing, version + version_offset, outcome)
    with refused(GateRefused, "meeting_gate_not_met", rules=["R-MTG-5"], case=sato):
        sato.approve_plan(COORDINATOR, meeting)
    assert sato.plan_in_draft["status"] == "draft"


def test_R_MTG_5_case_not_on_the_agenda_gets_no_approval(sato: SupportCase) -> None:
    """R-MTG-5: a meeting that did not take the case proves nothing for it."""
    support.in_planning(sato)
    sato.draft_plan(COORDINATOR, support.plan())
    other = support.in_planning(support.refer_suzuki())
    meeting = support.hold_meeting([support.item(other, Timing.plan, 1)])
    ev = meeting.evidence_for(str(sato.id))
    assert ev.decision is None
    with refused(GateRefused, "meeting_gate_not_met", case=sato):
        sato.approve_plan(COORDINATOR, ev)


def test_R_MTG_5_closure_gate_needs_meeting_C_on_the_current_plan(sato: SupportCase) -> None:
    """R-MTG-5 (C): closure needs a meeting at timing C approving the plan in effect."""
    support.in_support(sato)
    for wrong in (
        support.meeting_for(sato, Timing.closure, 2),
        support.meeting_for(sato, Timing.suspension, 1),
        support.meeting_for(sato, Timing.closure, 1, "deferred"),
    ):
        with refused(GateRefused, "meeting_gate_not_met", rules=["R-MTG-5"], case=sato):
            sato.close_case(COORDINATOR, wrong, support.closure())
    sato.close_case(COORDINATOR, support.meeting_for(sato, Timing.closure, 1), support.closure())
    assert sato.state == "closed"


def test_R_MTG_5_suspension_gate_needs_meeting_D(suzuki: SupportCase) -> None:
    """R-MTG-5 (D): suspension needs a meeting at timing D approving it."""
    support.in_support(suzuki, ["participation"])
    suzuki.record_contact_attempt(COORDINATOR, support.unreached())
    with refused(GateRefused, "meeting_gate_not_met", rules=["R-MTG-5"], case=suzuki):
        suzuki.suspend_case(COORDINATOR, support.meeting_for(suzuki, Timing.closure, 1), "途絶")
    suzuki.suspend_case(COORDINATOR, support.meeting_for(suzuki, Timing.suspension, 1), "途絶")
    assert suzuki.state == "suspended"


def test_R_MTG_5_agenda_item_at_a_timing_names_the_plan_version(sato: SupportCase) -> None:
    """R-MTG-5: an agenda item at one of the four timings must name the plan version."""
    with refused(RuleViolation, "plan_version_required", rules=["R-MTG-5"]):
        support.hold_meeting([support.item(sato, Timing.plan, None)])


@pytest.mark.parametrize("timing", [Timing.plan, Timing.replan, Timing.closure, Timing.suspension])
def test_R_MTG_6_case_conference_agenda_with_a_timing_is_refused(
    sato: SupportCase, timing: Timing
) -> None:
    """R-MTG-6: a case conference does not count as one of the four timings."""
    with refused(RuleViolation, "timing_requires_layered_support_meeting", rules=["R-MTG-6"]):
        support.hold_meeting(
            [support.item(sato, timing, 1)], kind=MeetingKind.case_conference, host=COORDINATOR
        )


def test_R_MTG_6_support_council_agenda_with_a_timing_is_refused(sato: SupportCase) -> None:
    """R-MTG-6: neither does a support council."""
    with refused(RuleViolation, "timing_requires_layered_support_meeting", rules=["R-MTG-6"]):
        support.hold_meeting(
            [support.item(sato, Timing.plan, 1)], kind=MeetingKind.support_council, host=CITY
        )


def test_R_MTG_6_plan_approval_with_a_case_conference_is_refused(sato: SupportCase) -> None:
    """R-MTG-6: a progress-check case conference cannot adopt the plan."""
    support.in_planning(sato)
    sato.draft_plan(COORDINATOR, support.plan())
    conference = support.hold_meeting(
        [support.item(sato, Timing.none, None, "noted")],
        kind=MeetingKind.case_conference,
        host=SELF_RELIANCE,
    )
    with refused(GateRefused, "meeting_not_layered_support_meeting", rules=["R-MTG-6"], case=sato):
        sato.approve_plan(COORDINATOR, conference.evidence_for(str(sato.id)))


def test_R_MTG_6_case_conference_evidence_is_refused_even_if_it_claims_approval(
    sato: SupportCase,
) -> None:
    """R-MTG-6: the kind alone refuses: attendance and an 'approved' item do not help."""
    support.in_planning(sato)
    sato.draft_plan(COORDINATOR, support.plan())
    claimed = support.evidence(kind=MeetingKind.case_conference)
    with refused(GateRefused, "meeting_not_layered_support_meeting", case=sato):
        sato.approve_plan(COORDINATOR, claimed)
    # the same evidence as a layered support meeting passes
    sato.approve_plan(COORDINATOR, support.evidence())
    assert sato.state == "in_support"


def test_R_MTG_7_one_meeting_three_cases_each_with_its_own_decision() -> None:
    """R-MTG-7: 第3回重層的支援会議 takes three cases; each case's gate reads its own item.

    Case 1 (山田) re-plan B approved; case 2 (佐藤) plan A deferred; case 3 (鈴木) suspension
    D approved with attempts on record.
    """
    case1 = support.in_replanning(support.refer_yamada(), ["outreach"])
    v1 = case1.draft_plan(COORDINATOR, support.plan(["outreach", "participation"]))
    case2 = support.in_planning(support.refer_sato())
    v2 = case2.draft_plan(COORDINATOR, support.plan())
    case3 = support.in_support(support.refer_suzuki(), ["participation"])
    case3.record_contact_attempt(COORDINATOR, support.unreached())
    v3 = case3.current_plan["version"]

    meeting = support.hold_meeting(
        [
            support.item(case1, Timing.replan, v1, "approved"),
            support.item(case2, Timing.plan, v2, "deferred"),
            support.item(case3, Timing.suspension, v3, "approved"),
        ],
        title="第3回重層的支援会議",
        resource_shortages=["平日日中に成人男性の居場所がない"],
    )
    assert meeting.case_ids == [str(case1.id), str(case2.id), str(case3.id)]

    ev1 = meeting.evidence_for(str(case1.id))
    ev2 = meeting.evidence_for(str(case2.id))
    ev3 = meeting.evidence_for(str(case3.id))
    assert ev1.decision.timing is Timing.replan
    assert ev2.decision.outcome is Outcome.deferred
    assert ev3.decision.timing is Timing.suspension
    assert ev1.meeting_id == ev2.meeting_id == ev3.meeting_id == str(meeting.id)

    case1.approve_replan(COORDINATOR, ev1)
    assert case1.state == "awaiting_decision"
    with refused(GateRefused, "meeting_gate_not_met", rules=["R-MTG-7"], case=case2):
        case2.approve_plan(COORDINATOR, ev2)
    case3.suspend_case(COORDINATOR, ev3, "連絡が完全に途絶")
    assert case3.state == "suspended"
    # case 2 is still in planning with its draft, to be taken again at a later meeting
    assert case2.state == "planning"
    assert case2.plan_in_draft["version"] == v2


def test_R_MTG_7_one_agenda_item_per_case(sato: SupportCase) -> None:
    """R-MTG-7: a case appears once on a meeting's agenda."""
    with refused(RuleViolation, "duplicate_agenda_item", rules=["R-MTG-7"]):
        support.hold_meeting(
            [support.item(sato, Timing.plan, 1), support.item(sato, Timing.none, None, "noted")]
        )
