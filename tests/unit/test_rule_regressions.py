"""Regressions: rules the domain once broke, each kept as a test of the rule it proves."""

from __future__ import annotations

import contextlib
import copy

import pytest

from service.domain.case import SupportCase
from service.domain.errors import DomainError, GateRefused, RuleViolation
from service.domain.values import MeetingKind, Timing
from service.domain.workflow import Workflow, support_case_workflow
from tests.unit import support
from tests.unit.support import CENTER, CITY, COORDINATOR, refused


def test_R_CON_2_case_conference_refuses_a_case_without_consent(
    hoarding_couple: SupportCase,
) -> None:
    """R-CON-2: a case without consent may be discussed ONLY in the support council."""
    with refused(RuleViolation, "case_without_consent", rules=["R-CON-2"]):
        support.hold_meeting(
            [support.item(hoarding_couple, Timing.none, None, "noted")],
            kind=MeetingKind.case_conference,
            host=CENTER,
            consented=set(),
        )


def test_R_SUS_2_attempts_before_contact_was_restored_do_not_justify_a_new_suspension(
    suzuki: SupportCase,
) -> None:
    """R-SUS-2, R-SUS-3: after contact is restored, a new suspension needs new attempts."""
    support.suspended(suzuki)
    suzuki.resume_case(COORDINATOR, "本人から電話", "2026-12-01", contact_restored_on="2026-12-01")
    meeting = support.meeting_for(suzuki, Timing.suspension, 1)
    with refused(GateRefused, "contact_attempts_required", rules=["R-SUS-2"], case=suzuki):
        suzuki.suspend_case(COORDINATOR, meeting, "再び途絶")


def test_R_DEC_2_refused_plan_from_planning_returns_to_planning_after_reentry(
    yamada: SupportCase,
) -> None:
    """R-DEC-2: a refused plan goes back to where it was drafted (planning, meeting A)."""
    support.in_support(yamada, ["outreach"])
    yamada.withdraw_consent(COORDINATOR, "consent-1", "2026-08-01")
    assert yamada.state == "council_track"
    support.in_planning(yamada)
    version = yamada.draft_plan(COORDINATOR, support.plan(["outreach"]))
    yamada.approve_plan(COORDINATOR, support.meeting_for(yamada, Timing.plan, version))
    yamada.decide_support(CITY, granted=False, reason="役割分担が不明確", decided_on="2026-09-01")
    assert yamada.state == "planning"


def test_R_INT_2_consent_without_application_flag_never_breaks_the_case(
    yamada: SupportCase,
) -> None:
    """R-INT-2, R-CON-1: a malformed consent is refused or treated as sharing only; no crash."""
    consent = support.sharing_consent("person")
    del consent["application_for_use"]
    with contextlib.suppress(DomainError):
        yamada.give_consent(COORDINATOR, consent)
    with pytest.raises(DomainError) as exc:
        yamada.start_assessment(COORDINATOR)
    assert exc.value.code == "consent_required"


def test_R_MTG_7_agenda_item_without_outcome_is_refused_when_recorded(sato: SupportCase) -> None:
    """R-MTG-7: each case's decision is its own: an agenda item must carry its outcome."""
    agenda_item = support.item(sato, Timing.plan, 1)
    del agenda_item["outcome"]
    with pytest.raises(RuleViolation):
        support.hold_meeting([agenda_item])


def test_case_runs_under_the_workflow_it_was_referred_with() -> None:
    """A case created under a (per-municipality, policy) workflow keeps running under it."""
    document = copy.deepcopy(support_case_workflow().document)
    document["version"] = 2
    for transition in document["states"]["referred"]["transitions"]:
        if transition["event"] == "start_assessment":
            transition["guards"] = []
    custom = Workflow(document)
    case = SupportCase.refer(
        CENTER, support.referral_from(CENTER, "複合課題"), {"name": "x"}, [], workflow=custom
    )
    assert case.workflow_version == 2
    case.start_assessment(COORDINATOR)
    assert case.state == "assessment"
