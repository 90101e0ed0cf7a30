"""Replaying a case's events rebuilds the same state, now and at every past version.

The cases are saved in an in-memory eventsourcing `Application` (POPO persistence, events go
through the JSON transcoder as they would in production) and read back from the repository.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from service.domain.case import SupportCase
from service.domain.meeting import Meeting
from service.domain.values import Timing
from tests.unit import support
from tests.unit.support import (
    CENTER,
    CITY,
    COORDINATOR,
    OUTREACH,
    PARTICIPATION,
    domain_state,
    in_memory_app,
)


class Recorder:
    """Runs commands on a case and remembers its state after every version."""

    def __init__(self, case: SupportCase) -> None:
        self.case = case
        self.by_version = {case.version: domain_state(case)}

    def __call__(self, command: Callable[[SupportCase], Any]) -> None:
        command(self.case)
        self.by_version[self.case.version] = domain_state(self.case)


def yamada_8050_life() -> Recorder:
    """The 8050 case from referral to closure, with early outreach, a decision and a re-plan."""
    r = Recorder(support.refer_yamada())
    c = COORDINATOR
    r(lambda k: k.record_explanation(CENTER, "explanation", "2026-03-28", "サービスの説明"))
    r(lambda k: k.give_consent(c, support.application(["hokatsu-minami", "outreach-hikari"])))
    r(lambda k: k.give_consent(c, support.sharing_consent("member-1", ["outreach-hikari"])))
    r(lambda k: k.start_assessment(c))
    r(lambda k: k.record_early_start(OUTREACH, "outreach", "長男が訪問拒否", "2026-04-20"))
    r(lambda k: k.record_contact_attempt(OUTREACH, support.unreached("2026-04-25")))
    r(lambda k: k.complete_assessment(c, {"summary": "家計破綻と長期ひきこもり"}))
    r(lambda k: k.draft_plan(c, support.plan(["outreach"], roles=[CENTER, OUTREACH])))
    r(lambda k: k.approve_plan(c, support.meeting_for(k, Timing.plan, 1)))
    r(lambda k: k.decide_support(CITY, granted=True, reason="", decided_on="2026-06-12"))
    r(lambda k: k.record_monitoring(c, {"on": "2026-07-10", "summary": "手紙に反応"}))
    r(lambda k: k.start_replan(c, "タロウが同意"))
    r(
        lambda k: k.draft_plan(
            c, support.plan(["outreach", "participation"], roles=[CENTER, OUTREACH, PARTICIPATION])
        )
    )
    r(lambda k: k.approve_replan(c, support.meeting_for(k, Timing.replan, 2)))
    r(lambda k: k.decide_support(CITY, granted=True, reason="", decided_on="2027-01-10"))
    r(lambda k: k.close_case(c, support.meeting_for(k, Timing.closure, 2), support.closure()))
    return r


def suzuki_suspension_life() -> Recorder:
    """The lost-contact case: plan refused once, attempts, suspension, resumption."""
    r = Recorder(support.refer_suzuki())
    c = COORDINATOR
    r(lambda k: k.give_consent(c, support.application(["jiritsu-soudan"])))
    r(lambda k: k.start_assessment(c))
    r(lambda k: k.complete_assessment(c, {"summary": "住居と就労"}))
    r(lambda k: k.draft_plan(c, support.plan(["participation"])))
    r(lambda k: k.approve_plan(c, support.meeting_for(k, Timing.plan, 1)))
    r(
        lambda k: k.decide_support(
            CITY, granted=False, reason="受け入れ先未定", decided_on="2026-06-12"
        )
    )
    r(lambda k: k.draft_plan(c, support.plan(["participation"], policy="受け入れ先を確保")))
    r(lambda k: k.approve_plan(c, support.meeting_for(k, Timing.plan, 2)))
    r(lambda k: k.decide_support(CITY, granted=True, reason="", decided_on="2026-07-01"))
    r(lambda k: k.record_contact_attempt(c, support.unreached("2026-09-01", "phone")))
    r(lambda k: k.record_contact_attempt(c, support.unreached("2026-09-05", "home_visit")))
    r(lambda k: k.suspend_case(c, support.meeting_for(k, Timing.suspension, 2), "連絡途絶"))
    r(lambda k: k.resume_case(c, "本人から電話", "2027-01-05", contact_restored_on="2027-01-05"))
    r(lambda k: k.withdraw_consent(c, "consent-1", "2027-01-20", "本人の意思"))
    return r


@pytest.mark.parametrize("life", [yamada_8050_life, suzuki_suspension_life])
def test_replaying_saved_events_rebuilds_the_same_case(life: Callable[[], Recorder]) -> None:
    """The case read back from the repository equals the case that made the events."""
    recorder = life()
    app = in_memory_app()
    app.save(recorder.case)
    replayed = app.repository.get(recorder.case.id)
    assert isinstance(replayed, SupportCase)
    assert domain_state(replayed) == domain_state(recorder.case)
    assert replayed.state == recorder.case.state


@pytest.mark.parametrize("life", [yamada_8050_life, suzuki_suspension_life])
def test_every_past_version_is_rebuilt_as_it_was(life: Callable[[], Recorder]) -> None:
    """R-PLN-3: history stays readable: every version of the case replays to its past state."""
    recorder = life()
    app = in_memory_app()
    app.save(recorder.case)
    assert sorted(recorder.by_version) == list(range(1, recorder.case.version + 1))
    for version, expected in recorder.by_version.items():
        past = app.repository.get(recorder.case.id, version=version)
        assert domain_state(past) == expected, f"version {version}"


def test_final_states_of_the_lives() -> None:
    """The two lives end where the examples say: closed, and council track after withdrawal."""
    assert yamada_8050_life().case.state == "closed"
    assert suzuki_suspension_life().case.state == "council_track"


def test_saved_events_are_the_past_tense_commands() -> None:
    """Every change is an event named in the past tense, stored in order."""
    recorder = suzuki_suspension_life()
    app = in_memory_app()
    app.save(recorder.case)
    names = [type(e).__name__ for e in app.events.get(recorder.case.id)]
    assert names[:3] == ["CaseReferred", "ConsentGiven", "AssessmentStarted"]
    assert names[-3:] == ["CaseSuspended", "CaseResumed", "ConsentWithdrawn"]
    assert len(names) == recorder.case.version


def test_meeting_replays_and_gives_the_same_evidence() -> None:
    """R-MTG-7: a saved multi-case meeting replays to the same evidence for each case."""
    case1 = support.in_planning(support.refer_sato())
    case2 = support.in_planning(support.refer_suzuki())
    meeting = support.hold_meeting(
        [support.item(case1, Timing.plan, 1), support.item(case2, Timing.plan, 1, "deferred")],
        resource_shortages=["居場所の不足"],
    )
    app = in_memory_app()
    app.save(meeting)
    replayed = app.repository.get(meeting.id)
    assert isinstance(replayed, Meeting)
    assert domain_state(replayed) == domain_state(meeting)
    for case in (case1, case2):
        assert replayed.evidence_for(str(case.id)) == meeting.evidence_for(str(case.id))
