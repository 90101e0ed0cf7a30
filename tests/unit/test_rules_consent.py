"""Consent and information sharing: R-CON-1, R-CON-2, R-CON-3, R-CON-5."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from service.domain.case import SupportCase
from service.domain.errors import GateRefused, RuleViolation
from service.domain.values import MeetingKind, Timing
from tests.unit import support
from tests.unit.support import (
    CITY,
    COORDINATOR,
    OUTREACH,
    refused,
)


def test_R_CON_1_sharing_consent_names_the_agencies_it_covers(yamada: SupportCase) -> None:
    """R-CON-1: a sharing consent names the agencies it covers; it is kept as given."""
    agencies = ["hokatsu-minami", "jiritsu-soudan", "outreach-hikari"]
    yamada.give_consent(COORDINATOR, support.application(agencies))
    [consent] = yamada.active_consents("person")
    assert consent["agencies"] == agencies
    assert consent["consent_id"] == "consent-1"


def test_R_CON_1_sharing_only_consent_is_not_an_application_for_use(yamada: SupportCase) -> None:
    """R-CON-1: consent to share is not the application for use; assessment stays refused."""
    yamada.give_consent(COORDINATOR, support.sharing_consent("person"))
    assert yamada.active_consents("person")
    assert not yamada.has_application_for_use
    with refused(GateRefused, "consent_required", rules=["R-CON-1"], case=yamada):
        yamada.start_assessment(COORDINATOR)


def test_R_CON_2_case_without_consent_goes_to_the_support_council(
    hoarding_couple: SupportCase,
) -> None:
    """R-CON-2: the council-only couple: without consent the case goes to the support council."""
    hoarding_couple.refer_to_council(CITY, "本人が一切の接触を拒否")
    assert hoarding_couple.state == "council_track"
    assert hoarding_couple.council_referral == {"reason": "本人が一切の接触を拒否"}
    # the municipality hosts the council; a case without consent may be discussed there
    council = support.hold_meeting(
        [support.item(hoarding_couple, Timing.none, None, "noted")],
        kind=MeetingKind.support_council,
        host=CITY,
        consented=set(),
    )
    assert council.case_ids == [str(hoarding_couple.id)]
    assert council.kind == "support_council"


def test_R_CON_2_case_with_consent_is_not_put_on_the_council_track(yamada: SupportCase) -> None:
    """R-CON-2: a case with the application for use goes to the layered meeting, not the council."""
    support.consented(yamada)
    with refused(GateRefused, "consent_already_given", rules=["R-CON-2"], case=yamada):
        yamada.refer_to_council(CITY, "念のため")


def test_R_CON_2_layered_meeting_refuses_a_case_without_consent(
    hoarding_couple: SupportCase,
) -> None:
    """R-CON-2: no layered support meeting can take a case until consent exists."""
    with refused(RuleViolation, "case_without_consent", rules=["R-CON-2"]):
        support.hold_meeting(
            [support.item(hoarding_couple, Timing.none, None, "noted")], consented=set()
        )


def test_R_CON_2_support_council_cannot_approve_a_plan(yamada: SupportCase) -> None:
    """R-CON-2: the support council is not a layered support meeting and passes no gate."""
    support.in_planning(yamada)
    yamada.draft_plan(COORDINATOR, support.plan(["outreach"]))
    council = support.hold_meeting(
        [support.item(yamada, Timing.none, None, "noted")],
        kind=MeetingKind.support_council,
        host=CITY,
    )
    with refused(
        GateRefused, "meeting_not_layered_support_meeting", rules=["R-CON-2"], case=yamada
    ):
        yamada.approve_plan(COORDINATOR, council.evidence_for(str(yamada.id)))


def test_R_CON_2_council_track_needs_consent_before_assessment(
    hoarding_couple: SupportCase,
) -> None:
    """R-CON-2: from the council track the case enters coordination only once consent exists."""
    hoarding_couple.refer_to_council(CITY, "接触拒否")
    with refused(GateRefused, "consent_required", case=hoarding_couple):
        hoarding_couple.start_assessment(COORDINATOR)
    support.consented(hoarding_couple)
    hoarding_couple.start_assessment(COORDINATOR)
    assert hoarding_couple.state == "assessment"


def _in_assessment(case: SupportCase) -> SupportCase:
    return support.in_assessment(case)


def _in_planning(case: SupportCase) -> SupportCase:
    return support.in_planning(case)


def _awaiting_decision(case: SupportCase) -> SupportCase:
    return support.awaiting_decision(case)


def _in_support(case: SupportCase) -> SupportCase:
    return support.in_support(case)


def _in_replanning(case: SupportCase) -> SupportCase:
    return support.in_replanning(case)


@pytest.mark.parametrize(
    "reach",
    [_in_assessment, _in_planning, _awaiting_decision, _in_support, _in_replanning],
    ids=["assessment", "planning", "awaiting_decision", "in_support", "replanning"],
)
def test_R_CON_3_withdrawing_the_application_moves_the_case_to_council_track(
    yamada: SupportCase, reach: Callable[[SupportCase], SupportCase]
) -> None:
    """R-CON-3: withdrawal of the application for use puts the case back on the council track."""
    reach(yamada)
    [application] = yamada.active_consents("person")
    yamada.withdraw_consent(COORDINATOR, application["consent_id"], "2026-09-01", "本人の意思")
    assert yamada.state == "council_track"
    assert not yamada.has_application_for_use
    assert yamada.active_consents() == []
    assert yamada.consents[0]["withdrawn_on"] == "2026-09-01"
    assert support.event_names(yamada)[-1] == "ConsentWithdrawn"


def test_R_CON_3_withdrawing_a_sharing_consent_keeps_the_application(yamada: SupportCase) -> None:
    """R-CON-3: withdrawing a consent that is not the application leaves the case where it is."""
    support.in_planning(yamada)
    sharing = yamada.give_consent(
        COORDINATOR, support.sharing_consent("person", ["outreach-hikari"])
    )
    yamada.withdraw_consent(COORDINATOR, sharing, "2026-09-01")
    assert yamada.state == "planning"
    assert yamada.has_application_for_use
    assert [c["consent_id"] for c in yamada.active_consents()] == ["consent-1"]


def test_R_CON_3_a_second_application_keeps_the_case_when_one_is_withdrawn(
    yamada: SupportCase,
) -> None:
    """R-CON-3: the case leaves coordination only when no application for use remains."""
    support.in_support(yamada)
    second = yamada.give_consent(COORDINATOR, support.application(given_on="2026-07-01"))
    yamada.withdraw_consent(COORDINATOR, "consent-1", "2026-09-01")
    assert yamada.state == "in_support"
    yamada.withdraw_consent(COORDINATOR, second, "2026-09-02")
    assert yamada.state == "council_track"


@pytest.mark.parametrize("consent_id", ["consent-1", "consent-9"])
def test_R_CON_3_withdrawing_a_withdrawn_or_unknown_consent_is_refused(
    yamada: SupportCase, consent_id: str
) -> None:
    """R-CON-3: only an active consent can be withdrawn."""
    support.in_assessment(yamada)
    yamada.give_consent(COORDINATOR, support.application(given_on="2026-04-03"))
    yamada.withdraw_consent(COORDINATOR, "consent-1", "2026-05-01")
    with refused(GateRefused, "consent_not_found", rules=["R-CON-3"], case=yamada):
        yamada.withdraw_consent(COORDINATOR, consent_id, "2026-05-02")


def test_R_CON_5_household_member_consent_does_not_satisfy_the_application(
    yamada: SupportCase,
) -> None:
    """R-CON-5: consent is per person: タロウ's sharing consent is not ハナ's application."""
    yamada.give_consent(COORDINATOR, support.sharing_consent("member-1"))
    assert yamada.active_consents("member-1")
    assert yamada.active_consents("person") == []
    assert not yamada.has_application_for_use
    with refused(GateRefused, "consent_required", case=yamada):
        yamada.start_assessment(COORDINATOR)


def test_R_CON_5_application_for_use_by_a_household_member_is_refused(
    yamada: SupportCase,
) -> None:
    """R-CON-5: the application for use is the main person's; a member's is refused."""
    member_application = {**support.application(), "person_id": "member-1"}
    with refused(
        GateRefused,
        "application_must_be_by_main_person",
        rules=["R-CON-5", "R-INT-2"],
        case=yamada,
    ):
        yamada.give_consent(COORDINATOR, member_application)


def test_R_CON_5_consent_of_someone_outside_the_case_is_refused(yamada: SupportCase) -> None:
    """R-CON-5: consent is recorded only for the person or a household member of the case."""
    with refused(GateRefused, "unknown_person", rules=["R-CON-5"], case=yamada):
        yamada.give_consent(COORDINATOR, support.sharing_consent("member-2"))


def test_R_CON_5_member_withdrawal_does_not_touch_the_main_application(
    yamada: SupportCase,
) -> None:
    """R-CON-5: withdrawing a household member's consent leaves the person's application."""
    support.in_support(yamada)
    taro = yamada.give_consent(
        COORDINATOR, support.sharing_consent("member-1", ["outreach-hikari"])
    )
    yamada.withdraw_consent(COORDINATOR, taro, "2026-09-01")
    assert yamada.state == "in_support"
    assert yamada.has_application_for_use
    assert yamada.active_consents("member-1") == []


def test_R_CON_2_outreach_may_start_early_on_the_council_track(
    hoarding_couple: SupportCase,
) -> None:
    """R-CON-2, R-DEC-3: without consent, outreach may begin early on the council track."""
    hoarding_couple.refer_to_council(CITY, "接触拒否")
    hoarding_couple.record_early_start(OUTREACH, "outreach", "セルフネグレクトの疑い", "2026-05-10")
    assert hoarding_couple.state == "council_track"
    assert hoarding_couple.early_starts == [
        {
            "service": "outreach",
            "reason": "セルフネグレクトの疑い",
            "started_on": "2026-05-10",
            "before_consent": True,  # on the council track (R-OUT-3)
        }
    ]
    assert not hoarding_couple.has_application_for_use
