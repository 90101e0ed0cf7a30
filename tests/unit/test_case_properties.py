"""Stateful property test: random command sequences on a support case keep the rules.

Hypothesis drives a `SupportCase` (山田ハナ with her son as household member) through random
commands, including meetings recorded with `Meeting.record` whose evidence is passed to the gates
with `meeting.evidence_for(str(case.id))`. Commands may be refused (DomainError only); after
every step the invariants below must hold:

- R-MTG-5 (C), R-END-1: no closed case without a layered-support closure meeting, recorded here,
  that approved the case's current plan version at timing C;
- R-MTG-5 (D), R-SUS-1, R-SUS-2: no suspended case without an unreached contact attempt on record
  when the suspension was decided (after the last contact that reached the person) and a
  suspension meeting (D), recorded here, approving it for the current plan version;
- R-INT-2, R-CON-3: never in assessment / planning / awaiting_decision / in_support / replanning
  without the person's active application for use (withdrawal moves the case to council_track);
- R-PLN-2, R-DEC-1: a plan with outreach/participation is in effect only with a granted decision;
- the case's state is a workflow state, and every event applied is a transition of the workflow
  (previous state, command) -> new state; a refused command changes nothing (same version, no
  pending event: nothing half-written);
- replaying the saved events rebuilds the same case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from service.domain.errors import CommandNotAllowed, DomainError
from service.domain.meeting import Meeting
from service.domain.values import Actor, MeetingKind, Outcome, Role, Timing
from service.domain.workflow import support_case_workflow
from tests.unit import support
from tests.unit.support import (
    CENTER,
    CITY,
    COORDINATION_STATES,
    COORDINATOR,
    OUTREACH,
    REGULAR_MEETING,
    participant,
)

COMMAND_TIMING = {
    "approve_plan": Timing.plan,
    "approve_replan": Timing.replan,
    "close_case": Timing.closure,
    "suspend_case": Timing.suspension,
}
WRONG_TIMING = {
    Timing.plan: Timing.replan,
    Timing.replan: Timing.plan,
    Timing.closure: Timing.suspension,
    Timing.suspension: Timing.closure,
}
# one flaw at a time, or none: half of the meetings are flawless
FLAWS = [None] * 6 + ["timing", "version", "outcome", "kind", "municipality", "agenda"]
SERVICES = ["outreach", "participation"]
STAGES = [
    "referred",
    "council_track",
    "assessment",
    "planning",
    "awaiting_decision",
    "in_support",
    "replanning",
    "closed",
    "suspended",
]


def _evidence(machine: SupportCaseMachine, command: str) -> Any:
    return machine.hold_meeting(command, None).evidence_for(machine.case_id)


PROBES: dict[str, Callable[[SupportCaseMachine], Any]] = {
    "give_consent": lambda m: m.case.give_consent(COORDINATOR, support.application()),
    "withdraw_consent": lambda m: m.case.withdraw_consent(COORDINATOR, "consent-1", "2026-09-01"),
    "record_explanation": lambda m: m.case.record_explanation(CENTER, "explanation", "2026-04-01"),
    "start_assessment": lambda m: m.case.start_assessment(COORDINATOR),
    "refer_to_council": lambda m: m.case.refer_to_council(CITY, "同意なし"),
    "return_to_referrer": lambda m: m.case.return_to_referrer(COORDINATOR, None),
    "record_early_start": lambda m: m.case.record_early_start(
        OUTREACH, "outreach", "", "2026-04-20"
    ),
    "record_contact_attempt": lambda m: m.case.record_contact_attempt(CENTER, support.unreached()),
    "complete_assessment": lambda m: m.case.complete_assessment(COORDINATOR, {}),
    "draft_plan": lambda m: m.case.draft_plan(COORDINATOR, support.plan()),
    "approve_plan": lambda m: m.case.approve_plan(COORDINATOR, _evidence(m, "approve_plan")),
    "approve_replan": lambda m: m.case.approve_replan(COORDINATOR, _evidence(m, "approve_replan")),
    "decide_support": lambda m: m.case.decide_support(CITY, True, "", "2026-06-12"),
    "record_monitoring": lambda m: m.case.record_monitoring(COORDINATOR, {"on": "2026-07-10"}),
    "start_replan": lambda m: m.case.start_replan(COORDINATOR, "変化"),
    "close_case": lambda m: m.case.close_case(
        COORDINATOR, _evidence(m, "close_case"), support.closure()
    ),
    "suspend_case": lambda m: m.case.suspend_case(
        COORDINATOR, _evidence(m, "suspend_case"), "途絶"
    ),
    "resume_case": lambda m: m.case.resume_case(COORDINATOR, "再相談", "2027-01-05"),
}
"""Each command with ordinary arguments, for probing states that do not have it."""


class SupportCaseMachine(RuleBasedStateMachine):
    """Random commands on one case; R-MTG-5, R-SUS-2, R-INT-2, R-CON-3 checked at every step."""

    def __init__(self) -> None:
        super().__init__()
        self.workflow = support_case_workflow()
        self.transitions = {(t.source, t.event, t.target) for t in self.workflow.transitions}
        self.case = support.refer_yamada()
        self.case_id = str(self.case.id)
        self.meetings: dict[str, Meeting] = {}
        self.path: list[tuple[str, str, str]] = []
        self.contacts_at_suspension: int | None = None

    # --- running a command ----------------------------------------------------------------

    def allows(self, command: str) -> bool:
        """The workflow has the command in the current state (guards not evaluated)."""
        return command in self.workflow.allowed_commands(self.case.state)

    def _run(self, command: str, action: Callable[[], Any]) -> None:
        case = self.case
        before = (case.state, case.version, len(case.pending_events))
        try:
            action()
        except DomainError as exc:
            # nothing half-written: same state, same version, no pending event
            assert (case.state, case.version, len(case.pending_events)) == before, command
            assert exc.code and exc.code != "domain_error", exc
            if isinstance(exc, CommandNotAllowed):
                assert command not in exc.allowed_commands
                assert exc.allowed_commands == self.workflow.allowed_commands(before[0])
            return
        # exactly one event, and it is a transition of the workflow
        assert case.version == before[1] + 1, command
        assert len(case.pending_events) == before[2] + 1, command
        step = (before[0], command, case.state)
        assert step in self.transitions, step
        self.path.append(step)
        if command == "suspend_case":
            self.contacts_at_suspension = len(case.contacts)

    def hold_meeting(self, command: str, flaw: str | None) -> Meeting:
        """Record a meeting for `command` with one flaw (or none); refusals are DomainErrors."""
        timing = COMMAND_TIMING[command]
        if command in ("approve_plan", "approve_replan"):
            draft = self.case.plan_in_draft
            version = draft["version"] if draft else 1
        else:
            current = self.case.current_plan
            version = current["version"] if current else 1
        kind = MeetingKind.layered_support_meeting
        outcome = Outcome.approved
        participants = REGULAR_MEETING
        host = COORDINATOR
        case_id = self.case_id
        if flaw == "timing":
            timing = WRONG_TIMING[timing]
        elif flaw == "version":
            version += 1
        elif flaw == "outcome":
            outcome = Outcome.deferred
        elif flaw == "municipality":
            participants = [participant(COORDINATOR), participant(CENTER)]
        elif flaw == "agenda":
            case_id = "some-other-case"
        agenda = [
            {"case_id": case_id, "timing": str(timing), "plan_version": version, "outcome": outcome}
        ]
        if flaw == "kind":
            kind, host = MeetingKind.case_conference, CENTER
            agenda[0].update(timing="none", plan_version=None, outcome="noted")
        meeting = Meeting.record(
            host,
            kind=kind,
            held_on="2026-06-10",
            meeting_format="online",
            participants=participants,
            agenda=agenda,
            consented_case_ids={case_id} if self.case.has_application_for_use else set(),
        )
        self.meetings[str(meeting.id)] = meeting
        return meeting

    # --- where the run starts -------------------------------------------------------------

    @initialize(
        stage=st.sampled_from(STAGES),
        services=st.lists(st.sampled_from(SERVICES), unique=True, max_size=2),
    )
    def start_at(self, stage: str, services: list[str]) -> None:
        """Walk the case by ordinary commands to a stage, so deep states get random commands too."""
        if stage == "awaiting_decision" and not services:
            services = ["outreach"]
        case = self.case
        route: list[tuple[str, Callable[[], Any]]] = [
            ("give_consent", lambda: case.give_consent(COORDINATOR, support.application())),
            ("start_assessment", lambda: case.start_assessment(COORDINATOR)),
            ("complete_assessment", lambda: case.complete_assessment(COORDINATOR, {"s": 1})),
            ("draft_plan", lambda: case.draft_plan(COORDINATOR, support.plan(services))),
            (
                "approve_plan",
                lambda: case.approve_plan(COORDINATOR, _evidence(self, "approve_plan")),
            ),
        ]
        if services:
            route.append(
                ("decide_support", lambda: case.decide_support(CITY, True, "", "2026-06-12"))
            )
        if stage == "council_track":
            route = [("refer_to_council", lambda: case.refer_to_council(CITY, "同意なし"))]
        elif stage == "replanning":
            route.append(("start_replan", lambda: case.start_replan(COORDINATOR, "変化")))
        elif stage == "closed":
            route.append(
                ("close_case", lambda: PROBES["close_case"](self)),
            )
        elif stage == "suspended":
            route.append(("record_contact_attempt", lambda: PROBES["record_contact_attempt"](self)))
            route.append(("suspend_case", lambda: PROBES["suspend_case"](self)))
        for command, action in route:
            if case.state == stage:
                break
            self._run(command, action)
        assert case.state == stage, (stage, self.path)

    # --- rules ----------------------------------------------------------------------------

    @rule(
        person=st.sampled_from(["person", "person", "member-1", "member-2"]),
        applies=st.sampled_from([True, True, False]),
    )
    @precondition(lambda self: self.allows("give_consent"))
    def give_consent(self, person: str, applies: bool) -> None:
        consent = {**support.sharing_consent(person), "application_for_use": applies}
        self._run("give_consent", lambda: self.case.give_consent(COORDINATOR, consent))

    @rule(number=st.integers(min_value=1, max_value=6))
    @precondition(lambda self: self.allows("withdraw_consent"))
    def withdraw_consent(self, number: int) -> None:
        self._run(
            "withdraw_consent",
            lambda: self.case.withdraw_consent(COORDINATOR, f"consent-{number}", "2026-09-01"),
        )

    @rule()
    @precondition(lambda self: self.allows("record_explanation"))
    def record_explanation(self) -> None:
        self._run(
            "record_explanation",
            lambda: self.case.record_explanation(CENTER, "explanation", "2026-03-28"),
        )

    @rule()
    @precondition(lambda self: self.allows("start_assessment"))
    def start_assessment(self) -> None:
        self._run("start_assessment", lambda: self.case.start_assessment(COORDINATOR))

    @rule()
    @precondition(lambda self: self.allows("refer_to_council"))
    def refer_to_council(self) -> None:
        self._run("refer_to_council", lambda: self.case.refer_to_council(CITY, "同意なし"))

    @rule(consulted=st.sampled_from([False, False, False, True]))
    @precondition(lambda self: self.allows("return_to_referrer"))
    def return_to_referrer(self, consulted: bool) -> None:
        consultation = {"consulted_on": "2026-04-05", "summary": "通常連携"} if consulted else {}
        self._run(
            "return_to_referrer",
            lambda: self.case.return_to_referrer(COORDINATOR, consultation),
        )

    @rule(service=st.sampled_from(SERVICES), reason=st.sampled_from(["", "早期支援が必要"]))
    @precondition(lambda self: self.allows("record_early_start"))
    def record_early_start(self, service: str, reason: str) -> None:
        self._run(
            "record_early_start",
            lambda: self.case.record_early_start(OUTREACH, service, reason, "2026-04-20"),
        )

    @rule(reached=st.booleans())
    @precondition(lambda self: self.allows("record_contact_attempt"))
    def record_contact_attempt(self, reached: bool) -> None:
        attempt = support.reached() if reached else support.unreached()
        self._run(
            "record_contact_attempt",
            lambda: self.case.record_contact_attempt(COORDINATOR, attempt),
        )

    @rule()
    @precondition(lambda self: self.allows("complete_assessment"))
    def complete_assessment(self) -> None:
        self._run(
            "complete_assessment",
            lambda: self.case.complete_assessment(COORDINATOR, {"summary": "複合課題"}),
        )

    @rule(
        services=st.lists(st.sampled_from(SERVICES), unique=True, max_size=2),
        with_early_starts=st.booleans(),
        complete=st.sampled_from([True, True, True, False]),
    )
    @precondition(lambda self: self.allows("draft_plan"))
    def draft_plan(self, services: list[str], with_early_starts: bool, complete: bool) -> None:
        if with_early_starts:
            services = sorted({*services, *(s["service"] for s in self.case.early_starts)})
        draft = support.plan(services)
        if not complete:
            draft["monitoring_dates"] = []
        self._run("draft_plan", lambda: self.case.draft_plan(COORDINATOR, draft))

    @rule(
        command=st.sampled_from(["approve_plan", "approve_replan"]),
        flaw=st.sampled_from(FLAWS),
    )
    @precondition(lambda self: self.allows("approve_plan") or self.allows("approve_replan"))
    def approve(self, command: str, flaw: str | None) -> None:
        def action() -> None:
            evidence = self.hold_meeting(command, flaw).evidence_for(self.case_id)
            getattr(self.case, command)(COORDINATOR, evidence)

        self._run(command, action)

    @rule(
        role=st.sampled_from([Role.municipality, Role.municipality, Role.coordinator]),
        granted=st.booleans(),
        reason=st.sampled_from(["", "役割分担が不明確"]),
    )
    @precondition(lambda self: self.allows("decide_support"))
    def decide_support(self, role: Role, granted: bool, reason: str) -> None:
        actor = Actor(support.MUNICIPALITY_ID, "agency", role)
        self._run(
            "decide_support",
            lambda: self.case.decide_support(actor, granted, reason, "2026-06-12"),
        )

    @rule()
    @precondition(lambda self: self.allows("record_monitoring"))
    def record_monitoring(self) -> None:
        self._run(
            "record_monitoring",
            lambda: self.case.record_monitoring(COORDINATOR, {"on": "2026-07-10"}),
        )

    @rule()
    @precondition(lambda self: self.allows("start_replan"))
    def start_replan(self) -> None:
        self._run("start_replan", lambda: self.case.start_replan(COORDINATOR, "状態の変化"))

    @rule(
        flaw=st.sampled_from(FLAWS),
        lead=st.sampled_from([CENTER, CENTER, CENTER, OUTREACH]),
        hand_back=st.sampled_from([None, CENTER, CENTER, OUTREACH]),
    )
    @precondition(lambda self: self.allows("close_case"))
    def close_case(self, flaw: str | None, lead: Actor, hand_back: Any) -> None:
        def action() -> None:
            evidence = self.hold_meeting("close_case", flaw).evidence_for(self.case_id)
            self.case.close_case(COORDINATOR, evidence, support.closure(lead, hand_back))

        self._run("close_case", action)

    @rule(flaw=st.sampled_from(FLAWS))
    @precondition(lambda self: self.allows("suspend_case"))
    def suspend_case(self, flaw: str | None) -> None:
        def action() -> None:
            evidence = self.hold_meeting("suspend_case", flaw).evidence_for(self.case_id)
            self.case.suspend_case(COORDINATOR, evidence, "連絡途絶")

        self._run("suspend_case", action)

    @rule(restored=st.booleans())
    @precondition(lambda self: self.allows("resume_case"))
    def resume_case(self, restored: bool) -> None:
        self._run(
            "resume_case",
            lambda: self.case.resume_case(
                COORDINATOR, "再相談", "2027-01-05", "2027-01-05" if restored else None
            ),
        )

    @rule(command=st.sampled_from(sorted(PROBES)))
    def any_command_in_any_state(self, command: str) -> None:
        """Any command at any time: refused with CommandNotAllowed where the state lacks it."""
        self._run(command, lambda: PROBES[command](self))

    # --- invariants -----------------------------------------------------------------------

    def _approved_here(self, meeting_id: str, timing: Timing) -> bool:
        """The meeting was recorded here as a layered meeting approving this case at `timing`."""
        meeting = self.meetings.get(meeting_id)
        if meeting is None:
            return False
        evidence = meeting.evidence_for(self.case_id)
        current = self.case.current_plan
        return (
            evidence.is_layered_support_meeting
            and {Role.coordinator, Role.municipality} <= evidence.attended_roles
            and current is not None
            and evidence.approved(timing, current["version"])
        )

    @invariant()
    def state_is_a_workflow_state(self) -> None:
        """The aggregate's state is one of the workflow's states."""
        assert self.case.state in self.workflow.states

    @invariant()
    def path_follows_the_workflow(self) -> None:
        """The states form a chain of workflow transitions from the initial state."""
        state = self.workflow.initial
        for source, command, target in self.path:
            assert source == state
            assert (source, command, target) in self.transitions
            state = target
        assert state == self.case.state

    @invariant()
    def closed_only_at_a_closure_meeting(self) -> None:
        """R-MTG-5 (C), R-END-1: closed => a closure meeting approved the current plan version."""
        if self.case.state == "closed":
            assert self.case.closure is not None
            assert self._approved_here(self.case.closure["meeting_id"], Timing.closure)
            assert self.case.closure["meeting_id"] in self.case.meeting_ids

    @invariant()
    def suspended_only_after_attempts_and_meeting_D(self) -> None:
        """R-SUS-1, R-SUS-2, R-MTG-5 (D): suspended => unreached attempts and a meeting D.

        The attempts are those on record when the suspension was decided (a contact that
        reaches the person later, while suspended, is the way back: R-SUS-3).
        """
        if self.case.state == "suspended":
            assert self.contacts_at_suspension is not None
            since_reached: list[dict] = []
            for attempt in self.case.contacts[: self.contacts_at_suspension]:
                since_reached = [] if attempt["reached"] else [*since_reached, attempt]
            assert since_reached
            assert self.case.suspension is not None
            assert self._approved_here(self.case.suspension["meeting_id"], Timing.suspension)

    @invariant()
    def coordination_only_with_application_for_use(self) -> None:
        """R-INT-2, R-CON-3: coordination states always have the person's application for use."""
        if self.case.state in COORDINATION_STATES:
            assert self.case.has_application_for_use
            assert any(
                c["application_for_use"] and c["person_id"] == "person"
                for c in self.case.active_consents()
            )

    @invariant()
    def plans_are_versioned_with_one_in_effect(self) -> None:
        """R-PLN-2, R-PLN-3, R-DEC-1: versions 1..n, one plan in effect, decided if it needs it."""
        plans = self.case.plans
        assert [p["version"] for p in plans] == list(range(1, len(plans) + 1))
        assert sum(p["status"] == "in_effect" for p in plans) <= 1
        assert all(p["status"] != "draft" for p in plans[:-1])
        current = self.case.current_plan
        if current is not None and current["services"]:
            assert current["decision"] is not None and current["decision"]["granted"] is True
        if self.case.state == "in_support":
            assert current is not None
        if self.case.state == "awaiting_decision":
            assert self.case.pending_plan is not None and self.case.pending_plan["services"]

    def teardown(self) -> None:
        """Replaying the saved events rebuilds the same case."""
        app = support.in_memory_app()
        expected = support.domain_state(self.case)
        app.save(self.case)
        assert support.domain_state(app.repository.get(self.case.id)) == expected


SupportCaseMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSupportCaseProperties = SupportCaseMachine.TestCase
