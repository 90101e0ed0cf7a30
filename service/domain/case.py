"""The support case aggregate: every change is a past-tense event, every gate asks the workflow."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate, event

from service.domain.errors import DomainError
from service.domain.evidence import MeetingEvidence
from service.domain.gates import CaseGates
from service.domain.plans import PlanVersions
from service.domain.values import Actor, Timing
from service.domain.workflow import (
    Workflow,
    has_text,
    register,
    support_case_workflow,
    workflow_version,
)

MAIN_PERSON = "person"

Json = dict[str, Any]


class SupportCase(PlanVersions, Aggregate):
    """A case of the multi-agency coordination service, from referral to closure or suspension."""

    class CaseReferred(Aggregate.Created):
        """The referral; v2 names the workflow version the case runs under."""

        # v1 referrals were written before workflows were versioned: they all ran version 1.
        class_version = 2

        municipality_id: str
        actor: Json
        state: str
        workflow_version: int
        referral: Json
        person: Json
        household: list[Json]

        @staticmethod
        def upcast_v1_v2(state: Json) -> None:
            """Fill the workflow version a v1 referral ran under (there was only one)."""
            state.setdefault("workflow_version", 1)

    @event("CaseReferred")
    def __init__(
        self,
        municipality_id: str,
        actor: Json,
        state: str,
        workflow_version: int,
        referral: Json,
        person: Json,
        household: list[Json],
    ) -> None:
        self.municipality_id = municipality_id
        self.state = state
        self.workflow_version = workflow_version
        self.referral = referral
        self.person = {**person, "person_id": MAIN_PERSON}
        self.household = [
            {**member, "person_id": f"member-{i}"} for i, member in enumerate(household, start=1)
        ]
        self.explanations: list[Json] = []
        self.consents: list[Json] = []
        self.council_referral: Json | None = None
        self.return_to_referrer_record: Json | None = None
        self.assessments: list[Json] = []
        self.early_starts: list[Json] = []
        self.contacts: list[Json] = []
        self.plans: list[Json] = []
        self.monitoring: list[Json] = []
        self.closure: Json | None = None
        self.suspension: Json | None = None
        self.closures: list[Json] = []
        self.suspensions: list[Json] = []
        self.resumptions: list[Json] = []
        self.meeting_ids: list[str] = []
        self.attempts_since_contact = 0

    # --- creation -------------------------------------------------------------------------

    @classmethod
    def refer(
        cls,
        actor: Actor,
        referral: Json,
        person: Json,
        household: list[Json],
        workflow: Workflow | None = None,
    ) -> SupportCase:
        """Open a case from a referral or a direct consultation (R-INT-1)."""
        wf = register(workflow) if workflow else support_case_workflow()
        if not has_text(referral.get("reason")):
            raise DomainError(
                "a referral records the compound needs that bring the case",
                code="referral_reason_required",
                rules=("R-INT-1",),
            )
        return cls(
            municipality_id=actor.municipality_id,
            actor=actor.as_dict(),
            state=wf.initial,
            workflow_version=wf.version,
            referral=referral,
            person=person,
            household=household,
        )

    # --- reading ---------------------------------------------------------------------------

    @property
    def workflow(self) -> Workflow:
        """Return the workflow this case runs under."""
        return workflow_version(self.workflow_version)

    @property
    def person_ids(self) -> list[str]:
        """Return the ids of the person and the household members concerned (R-CON-5)."""
        return [MAIN_PERSON] + [m["person_id"] for m in self.household]

    def active_consents(self, person_id: str | None = None) -> list[Json]:
        """Return the consents not withdrawn, optionally of one person."""
        return [
            c
            for c in self.consents
            if c["withdrawn_on"] is None and (person_id is None or c["person_id"] == person_id)
        ]

    @property
    def has_application_for_use(self) -> bool:
        """The person's application for use (利用申込) stands (R-INT-2)."""
        return any(c.get("application_for_use") for c in self.active_consents(MAIN_PERSON))

    @property
    def pending_plan(self) -> Json | None:
        """Return the plan approved by its meeting and waiting for the support decision."""
        last = self.plans[-1] if self.plans else None
        return last if last is not None and last["status"] == "awaiting_decision" else None

    @property
    def allowed_commands(self) -> tuple[str, ...]:
        """Return the commands the workflow allows in the current state."""
        return self.workflow.allowed_commands(self.state)

    def _decide(self, command: str, actor: Actor, **context: Any) -> str:
        return self.workflow.decide(CaseGates(self, actor, command, context), command)

    # --- intake and consent ---------------------------------------------------------------

    def record_explanation(self, actor: Actor, kind: str, on: str, note: str = "") -> None:
        """Record the explanation of the service or an accompaniment (R-INT-3)."""
        state = self._decide("record_explanation", actor)
        self._explanation_recorded(actor.as_dict(), state, {"kind": kind, "on": on, "note": note})

    @event("ExplanationRecorded")
    def _explanation_recorded(self, actor: Json, state: str, explanation: Json) -> None:
        self.explanations.append(explanation)
        self.state = state

    def give_consent(self, actor: Actor, consent: Json) -> str:
        """Record a person's consent: application for use and/or sharing (R-INT-2, R-CON-1)."""
        consent_id = f"consent-{len(self.consents) + 1}"
        state = self._decide("give_consent", actor, consent=consent)
        self._consent_given(actor.as_dict(), state, {**consent, "consent_id": consent_id})
        return consent_id

    @event("ConsentGiven")
    def _consent_given(self, actor: Json, state: str, consent: Json) -> None:
        self.consents.append({**consent, "withdrawn_on": None})
        self.state = state

    def withdraw_consent(self, actor: Actor, consent_id: str, on: str, reason: str = "") -> None:
        """Withdraw a consent; without the application the case goes to the council (R-CON-3)."""
        state = self._decide("withdraw_consent", actor, consent_id=consent_id)
        self._consent_withdrawn(actor.as_dict(), state, consent_id, on, reason)

    @event("ConsentWithdrawn")
    def _consent_withdrawn(
        self, actor: Json, state: str, consent_id: str, on: str, reason: str
    ) -> None:
        for c in self.consents:
            if c["consent_id"] == consent_id:
                c["withdrawn_on"] = on
        self.state = state

    def start_assessment(self, actor: Actor) -> None:
        """Take the case for assessment, only with the application for use (R-INT-2)."""
        state = self._decide("start_assessment", actor)
        self._assessment_started(actor.as_dict(), state)

    @event("AssessmentStarted")
    def _assessment_started(self, actor: Json, state: str) -> None:
        self.state = state

    def refer_to_council(self, actor: Actor, reason: str) -> None:
        """Put a case without consent on the support-council track (R-CON-2)."""
        state = self._decide("refer_to_council", actor)
        self._referred_to_council(actor.as_dict(), state, reason)

    @event("ReferredToCouncil")
    def _referred_to_council(self, actor: Json, state: str, reason: str) -> None:
        self.council_referral = {"reason": reason}
        self.state = state

    def return_to_referrer(self, actor: Actor, consultation: Json | None) -> None:
        """Return a case that needs no coordination, after consulting the referrer (R-INT-4)."""
        state = self._decide("return_to_referrer", actor, consultation=consultation)
        self._returned_to_referrer(actor.as_dict(), state, consultation or {})

    @event("ReturnedToReferrer")
    def _returned_to_referrer(self, actor: Json, state: str, consultation: Json) -> None:
        self.return_to_referrer_record = consultation
        self.state = state

    # --- assessment and plan ----------------------------------------------------------------

    def record_early_start(self, actor: Actor, service: str, reason: str, started_on: str) -> None:
        """Record outreach or participation support started before the plan (R-DEC-3)."""
        state = self._decide("record_early_start", actor, reason=reason)
        start = {
            "service": service,
            "reason": reason,
            "started_on": started_on,
            "before_consent": not self.has_application_for_use,  # the council track (R-OUT-3)
        }
        self._early_start_recorded(actor.as_dict(), state, start)

    @event("EarlyStartRecorded")
    def _early_start_recorded(self, actor: Json, state: str, start: Json) -> None:
        self.early_starts.append(start)
        self.state = state

    def record_contact_attempt(self, actor: Actor, attempt: Json) -> None:
        """Record an attempt to reach the person and whether it made contact (R-SUS-2)."""
        state = self._decide("record_contact_attempt", actor)
        # made on the council track, before the person's application for use (R-OUT-3)
        attempt = {**attempt, "before_consent": not self.has_application_for_use}
        self._contact_attempt_recorded(actor.as_dict(), state, attempt)

    @event("ContactAttemptRecorded")
    def _contact_attempt_recorded(self, actor: Json, state: str, attempt: Json) -> None:
        self.contacts.append(attempt)
        self.attempts_since_contact = (
            0 if attempt.get("reached") else self.attempts_since_contact + 1
        )
        self.state = state

    def complete_assessment(self, actor: Actor, assessment: Json) -> None:
        """Compile the intake-assessment sheet for the meeting (R-ASM-1, R-ASM-2)."""
        state = self._decide("complete_assessment", actor)
        self._assessment_completed(actor.as_dict(), state, assessment)

    @event("AssessmentCompleted")
    def _assessment_completed(self, actor: Json, state: str, assessment: Json) -> None:
        self.assessments.append(assessment)
        self.state = state

    def draft_plan(self, actor: Actor, plan: Json) -> int:
        """Write a new plan version with goals, policy, roles and monitoring (R-PLN-1)."""
        state = self._decide("draft_plan", actor, plan=plan)
        version = len(self.plans) + 1
        self._plan_drafted(actor.as_dict(), state, {**plan, "version": version})
        return version

    @event("PlanDrafted")
    def _plan_drafted(self, actor: Json, state: str, plan: Json) -> None:
        for p in self.plans:
            if p["status"] in ("draft", "refused", "awaiting_decision"):
                p["status"] = "superseded"
        self.plans.append({**plan, "status": "draft", "meeting_id": None, "decision": None})
        self.state = state

    def approve_plan(self, actor: Actor, meeting: MeetingEvidence) -> None:
        """Adopt the draft plan judged appropriate at a plan meeting (R-MTG-5 A, R-PLN-2)."""
        self._approve("approve_plan", actor, meeting, Timing.plan)

    def approve_replan(self, actor: Actor, meeting: MeetingEvidence) -> None:
        """Adopt the re-plan judged appropriate at a re-plan meeting (R-MTG-5 B, R-PLN-3)."""
        self._approve("approve_replan", actor, meeting, Timing.replan)

    def _approve(
        self, command: str, actor: Actor, meeting: MeetingEvidence, timing: Timing
    ) -> None:
        draft = self.plan_in_draft
        state = self._decide(
            command,
            actor,
            meeting=meeting,
            timing=timing,
            plan_version=draft["version"] if draft else None,
        )
        assert draft is not None  # the has_draft_plan guard holds
        self._plan_approved(
            actor.as_dict(),
            state,
            draft["version"],
            meeting.meeting_id,
            str(timing),
            meeting.held_on,
        )

    @event("PlanApproved")
    def _plan_approved(
        self,
        actor: Json,
        state: str,
        plan_version: int,
        meeting_id: str,
        timing: str,
        approved_on: str | None = None,  # the meeting's date; absent from older events
    ) -> None:
        plan = self.plans[plan_version - 1]
        plan["meeting_id"] = meeting_id
        plan["timing"] = timing
        if approved_on is not None:
            plan["approved_on"] = approved_on
        self._record_meeting(meeting_id)
        if state == "awaiting_decision":
            plan["status"] = "awaiting_decision"
        else:
            self._put_in_effect(plan)
        self.state = state

    def decide_support(self, actor: Actor, granted: bool, reason: str, decided_on: str) -> None:
        """The municipality's support decision on outreach/participation (R-DEC-1, R-DEC-2)."""
        pending = self.pending_plan
        state = self._decide("decide_support", actor, granted=granted, reason=reason)
        assert pending is not None  # awaiting_decision always holds a pending plan
        decision = {"granted": granted, "reason": reason, "decided_on": decided_on}
        self._support_decided(actor.as_dict(), state, pending["version"], decision)

    @event("SupportDecided")
    def _support_decided(self, actor: Json, state: str, plan_version: int, decision: Json) -> None:
        plan = self.plans[plan_version - 1]
        plan["decision"] = decision
        if decision["granted"]:
            self._put_in_effect(plan)
        else:
            plan["status"] = "refused"
        self.state = state

    # --- support, closure, suspension ------------------------------------------------------

    def record_monitoring(self, actor: Actor, record: Json) -> None:
        """Record monitoring of the plan and contact with the person (R-SUP-1, R-SUP-2)."""
        state = self._decide("record_monitoring", actor)
        self._monitoring_recorded(actor.as_dict(), state, record)

    @event("MonitoringRecorded")
    def _monitoring_recorded(self, actor: Json, state: str, record: Json) -> None:
        self.monitoring.append(record)
        if record.get("contact_made"):
            self.attempts_since_contact = 0
        self.state = state

    def start_replan(self, actor: Actor, reason: str) -> None:
        """Start revising the plan when the person's state changes (R-PLN-3)."""
        state = self._decide("start_replan", actor)
        self._replan_started(actor.as_dict(), state, reason)

    @event("ReplanStarted")
    def _replan_started(self, actor: Json, state: str, reason: str) -> None:
        self.state = state

    def close_case(self, actor: Actor, meeting: MeetingEvidence, closure: Json) -> None:
        """Close at a closure meeting with a lead agency and follow-up (R-END-1..3)."""
        state = self._decide(
            "close_case",
            actor,
            meeting=meeting,
            timing=Timing.closure,
            plan_version=self._current_plan_version,
            closure=closure,
        )
        self._case_closed(actor.as_dict(), state, meeting.meeting_id, closure)

    @event("CaseClosed")
    def _case_closed(self, actor: Json, state: str, meeting_id: str, closure: Json) -> None:
        self.closure = {**closure, "meeting_id": meeting_id}
        self.closures.append(self.closure)
        self._record_meeting(meeting_id)
        self.state = state

    def suspend_case(
        self, actor: Actor, meeting: MeetingEvidence, reason: str, outreach_attempts: int = 0
    ) -> None:
        """Suspend when contact is completely lost, at a suspension meeting (R-SUS-1, R-SUS-2).

        `outreach_attempts`: the case's outreach visits and inquiries made without contact since
        the last contact (the outreach's or the case's); they count as attempts (R-SUS-2).
        """
        state = self._decide(
            "suspend_case",
            actor,
            meeting=meeting,
            timing=Timing.suspension,
            plan_version=self._current_plan_version,
            outreach_attempts=outreach_attempts,
        )
        self._case_suspended(actor.as_dict(), state, meeting.meeting_id, reason)

    @event("CaseSuspended")
    def _case_suspended(self, actor: Json, state: str, meeting_id: str, reason: str) -> None:
        self.suspension = {"meeting_id": meeting_id, "reason": reason}
        self.suspensions.append(self.suspension)
        self._record_meeting(meeting_id)
        self.state = state

    def resume_case(
        self, actor: Actor, reason: str, resumed_on: str, contact_restored_on: str | None = None
    ) -> None:
        """Resume promptly after closure (R-END-4) or when contact returns (R-SUS-3)."""
        state = self._decide("resume_case", actor, contact_restored_on=contact_restored_on)
        resumption = {
            "from_state": self.state,
            "reason": reason,
            "resumed_on": resumed_on,
            "contact_restored_on": contact_restored_on,
        }
        self._case_resumed(actor.as_dict(), state, resumption)

    @event("CaseResumed")
    def _case_resumed(self, actor: Json, state: str, resumption: Json) -> None:
        self.resumptions.append(resumption)
        self.attempts_since_contact = 0  # contact is restored, or the case starts anew
        self.closure = None  # the past ones stay in closures / suspensions
        self.suspension = None
        self.state = state

    # --- workflow versions -----------------------------------------------------------------

    def migrate_workflow(self, actor: Actor, target: Workflow, to_state: str, reason: str) -> None:
        """Move the case to another version of its workflow, in an explicitly mapped state.

        The migration is an event of the case: before it, the case's events ran under the old
        version, after it under the new one (the `workflow` property follows `workflow_version`).
        """
        current = self.workflow
        target = register(target)  # replay finds the version by its number
        if target.name != current.name:
            raise DomainError(
                f"the case runs workflow {current.name}, not {target.name}",
                code="workflow_mismatch",
            )
        if target.version == self.workflow_version:
            raise DomainError(
                f"the case already runs version {target.version}",
                code="workflow_version_unchanged",
            )
        if to_state not in target.states:
            raise DomainError(
                f"version {target.version} of {target.name} has no state '{to_state}'",
                code="workflow_state_unknown",
            )
        if not has_text(reason):
            raise DomainError("a workflow migration records its reason", code="reason_required")
        self._workflow_migrated(
            actor.as_dict(),
            to_state,
            self.workflow_version,
            target.version,
            self.state,
            to_state,
            reason,
        )

    @event("WorkflowMigrated")
    def _workflow_migrated(
        self,
        actor: Json,
        state: str,
        from_version: int,
        to_version: int,
        from_state: str,
        to_state: str,
        reason: str,
    ) -> None:
        # `state` is the state after, as on every case event (webhooks and the feed read it).
        self.workflow_version = to_version
        self.state = state
