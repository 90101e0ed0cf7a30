"""Outreach and participation support: a child aggregate of a support case per service.

Each case has at most one engagement per service (アウトリーチ等を通じた継続的支援事業 and
参加支援事業). Its id is derived from the case id and the service, so the application finds a
case's engagements without a lookup table. The engagement runs its own workflow
(`workflows/outreach.yaml`, `workflows/participation.yaml`); its plans, re-plans, closure and
suspension pass the same four meeting gates as the case's (R-OUT-4, R-PAR-5, R-MTG-5).

Free-text notes are personal data: the application seals them with the person's data key before
they reach an event, so this aggregate only ever holds them as opaque values.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from service.domain.engagement_gates import EngagementGates
from service.domain.engagement_values import (
    ACTIVITY_LABELS,
    CONTACT_ATTEMPTS,
    ENGAGEMENT_NAMESPACE,
    NOTE_RECORDS,
    OUTCOME_LABELS,
    SERVICE_LABELS,
    SERVICES,
    OutreachActivity,
    OutreachOutcome,
    StartBasis,
    engagement_id,
    notes_context,
)
from service.domain.errors import (
    ActingAgencyMismatch,
    CommandNotAllowed,
    GateRefused,
    RuleViolation,
)
from service.domain.evidence import MeetingEvidence
from service.domain.plans import PlanVersions
from service.domain.values import Actor, Timing
from service.domain.workflow import Workflow, load_workflow, workflow_version

if TYPE_CHECKING:
    from service.domain.case import SupportCase

Json = dict[str, Any]

# The case states in which the plan in effect (and its support decision) is being carried out.
DECIDED_SUPPORT_STATES = frozenset({"in_support", "replanning", "awaiting_decision"})

__all__ = [
    "ACTIVITY_LABELS",
    "CONTACT_ATTEMPTS",
    "ENGAGEMENT_NAMESPACE",
    "NOTE_RECORDS",
    "OUTCOME_LABELS",
    "SERVICES",
    "SERVICE_LABELS",
    "OutreachActivity",
    "OutreachOutcome",
    "ServiceEngagement",
    "StartBasis",
    "engagement_id",
    "notes_context",
]


class ServiceEngagement(PlanVersions, Aggregate):
    """Outreach or participation support for one case, from its start to closure."""

    @staticmethod
    def create_id(case_id: str, service: str) -> UUID:
        """Derive the id from the case and the service."""
        return engagement_id(case_id, service)

    @event("EngagementStarted")
    def __init__(
        self,
        case_id: str,
        municipality_id: str,
        service: str,
        actor: Json,
        state: str,
        workflow_version: int,
        basis: str,
        reason: str,
        started_on: str,
        pre_consent: bool,
    ) -> None:
        self.case_id = case_id
        self.municipality_id = municipality_id
        self.service = service
        self.state = state
        self.workflow_version = workflow_version
        self.start = {
            "basis": basis,
            "reason": reason,
            "started_on": started_on,
            "pre_consent": pre_consent,
            "agency_id": actor.get("agency_id"),
        }
        self.activities: list[Json] = []
        self.intakes: list[Json] = []
        self.assessments: list[Json] = []
        self.plans: list[Json] = []
        self.matches: list[Json] = []
        self.settling_in: list[Json] = []
        self.follow_ups: list[Json] = []
        self.payments: list[Json] = []
        self.closures: list[Json] = []
        self.suspensions: list[Json] = []
        self.resumptions: list[Json] = []
        self.periodic_contacts: list[Json] = []
        self.meeting_ids: list[str] = []
        self.attempts_since_contact = 0
        self.connection_stable = False
        self.next_contact_due: str | None = None

    # --- starting -------------------------------------------------------------------------

    @classmethod
    def begin(
        cls,
        actor: Actor,
        case: SupportCase,
        service: str,
        basis: str,
        reason: str,
        started_on: str,
    ) -> ServiceEngagement:
        """Start after the support decision, or early with a reason (R-PAR-1, R-DEC-3).

        An early start is also recorded on the case (its `record_early_start`), so the case's
        next plan must include the service; save both aggregates together.
        """
        if service not in SERVICES:
            raise RuleViolation(f"unknown service {service!r}", code="unknown_service")
        if service == "participation" and not case.has_application_for_use:
            raise GateRefused(
                "participation support needs the person's application for use",
                code="consent_required",
                rules=("R-PAR-1", "R-INT-2"),
            )
        if basis == StartBasis.support_decision:
            plan = case.current_plan or {}
            decision = plan.get("decision") or {}
            if service not in plan.get("services", []) or decision.get("granted") is not True:
                raise GateRefused(
                    f"the plan in effect does not include {service} with a granted support "
                    "decision; start early with a reason instead",
                    code="support_decision_required",
                    rules=("R-PAR-1", "R-DEC-1", "R-PLN-2"),
                )
            if case.state not in DECIDED_SUPPORT_STATES:
                # A suspended or closed case keeps its plan's decision on record; it is no
                # basis to start support until the case resumes (R-SUS-3, R-END-4).
                raise CommandNotAllowed(
                    f"{service} support cannot start on the support decision while the case "
                    f"is {case.state!r}",
                    rules=("R-PAR-1", "R-SUS-1", "R-END-4"),
                )
        elif basis == StartBasis.early_start:
            case.record_early_start(actor, service=service, reason=reason, started_on=started_on)
        else:
            raise RuleViolation(f"unknown start basis {basis!r}", code="unknown_start_basis")
        wf = load_workflow(service)
        return cls(
            case_id=str(case.id),
            municipality_id=case.municipality_id,
            service=service,
            actor=actor.as_dict(),
            state=wf.initial,
            workflow_version=wf.version,
            basis=str(basis),
            reason=reason,
            started_on=started_on,
            pre_consent=not case.has_application_for_use,
        )

    # --- reading ---------------------------------------------------------------------------

    @property
    def workflow(self) -> Workflow:
        """Return the workflow version this engagement runs under."""
        return workflow_version(self.workflow_version, self.service)

    @property
    def allowed_commands(self) -> tuple[str, ...]:
        """Return the commands the workflow allows in the current state."""
        return self.workflow.allowed_commands(self.state)

    def attempts_after(self, last_contact_on: str | None) -> int:
        """Return the outreach attempts without contact since the outreach's last contact and
        after `last_contact_on` (the case's own last contact), for R-SUS-2."""
        count = 0
        for record in self.activities:
            if record["contact_made"]:
                count = 0
            elif record["kind"] in CONTACT_ATTEMPTS and (
                last_contact_on is None or str(record["on"]) > last_contact_on
            ):
                count += 1
        return count

    @property
    def host_id(self) -> str | None:
        """Return the host the person is matched to now (R-PAR-3)."""
        return self.matches[-1]["host_id"] if self.matches else None

    @property
    def matched_host_ids(self) -> set[str]:
        """Return every host the person has been matched to."""
        return {m["host_id"] for m in self.matches}

    def _decide(self, command: str, actor: Actor, **context: Any) -> str:
        return self.workflow.decide(EngagementGates(self, actor, command, context), command)

    # --- outreach activities (R-OUT-2, R-OUT-3) ----------------------------------------------

    def record_activity(self, actor: Actor, activity: Json, person_consented: bool) -> str:
        """Record an outreach activity; before consent only the council track's facts."""
        if activity.get("agency_id") not in (None, actor.agency_id):
            # The acting agency is the credential's; a record never speaks for another one.
            raise ActingAgencyMismatch(
                f"the agency '{actor.agency_id}' may record only its own activities, not "
                f"those of '{activity['agency_id']}'",
                rules=("R-OUT-2", "R-CON-4"),
            )
        _check_vocabulary(activity, "kind", OutreachActivity, "R-OUT-2")
        _check_vocabulary(activity, "outcome", OutreachOutcome, "R-OUT-3")
        state = self._decide(
            "record_activity",
            actor,
            notes=activity.get("notes"),
            person_consented=person_consented,
        )
        activity_id = f"activity-{len(self.activities) + 1}"
        record = {
            "activity_id": activity_id,
            "kind": str(activity["kind"]),
            "on": activity["on"],
            "agency_id": actor.agency_id,
            "outcome": str(activity["outcome"]),
            "contact_made": bool(activity.get("contact_made")),
            "person_id": activity.get("person_id") or "person",
            "notes": activity.get("notes"),
            "before_consent": not person_consented,
        }
        self._activity_recorded(actor.as_dict(), state, record)
        return activity_id

    @event("ActivityRecorded")
    def _activity_recorded(self, actor: Json, state: str, activity: Json) -> None:
        self.activities.append(activity)
        if activity["contact_made"]:
            self.attempts_since_contact = 0
        elif activity["kind"] in CONTACT_ATTEMPTS:
            self.attempts_since_contact += 1
        self.state = state

    # --- participation: intake, assessment (R-PAR-2) -----------------------------------------

    def record_intake(self, actor: Actor, intake: Json) -> None:
        """Record the participation provider's intake."""
        state = self._decide("record_intake", actor)
        self._intake_recorded(actor.as_dict(), state, intake)

    @event("EngagementIntakeRecorded")
    def _intake_recorded(self, actor: Json, state: str, intake: Json) -> None:
        self.intakes.append(intake)
        self.state = state

    def assess(self, actor: Actor, assessment: Json) -> None:
        """Record the participation provider's assessment."""
        state = self._decide("assess", actor)
        self._assessed(actor.as_dict(), state, assessment)

    @event("EngagementAssessed")
    def _assessed(self, actor: Json, state: str, assessment: Json) -> None:
        self.assessments.append(assessment)
        self.state = state

    # --- plans (R-OUT-4, R-PAR-2, R-PAR-5) -----------------------------------------------------

    def draft_plan(self, actor: Actor, plan: Json) -> int:
        """Write a new plan version of this service (goals, policy, roles, monitoring)."""
        state = self._decide("draft_plan", actor, plan=plan)
        version = len(self.plans) + 1
        self._plan_drafted(actor.as_dict(), state, {**plan, "version": version})
        return version

    @event("EngagementPlanDrafted")
    def _plan_drafted(self, actor: Json, state: str, plan: Json) -> None:
        for p in self.plans:
            if p["status"] == "draft":
                p["status"] = "superseded"
        self.plans.append({**plan, "status": "draft", "meeting_id": None})
        self.state = state

    def approve_plan(self, actor: Actor, meeting: MeetingEvidence) -> int:
        """Adopt the first plan at a plan meeting (A); return its version (R-MTG-5 A)."""
        return self._approve("approve_plan", actor, meeting, Timing.plan)

    def approve_replan(self, actor: Actor, meeting: MeetingEvidence) -> int:
        """Adopt a re-plan at a re-plan meeting (B); return its version (R-MTG-5 B)."""
        return self._approve("approve_replan", actor, meeting, Timing.replan)

    def _approve(self, command: str, actor: Actor, meeting: MeetingEvidence, timing: Timing) -> int:
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
            actor.as_dict(), state, draft["version"], meeting.meeting_id, str(timing)
        )
        return int(draft["version"])

    @event("EngagementPlanApproved")
    def _plan_approved(
        self, actor: Json, state: str, plan_version: int, meeting_id: str, timing: str
    ) -> None:
        plan = self.plans[plan_version - 1]
        self._put_in_effect(plan)
        plan.update(meeting_id=meeting_id, timing=timing)
        self._record_meeting(meeting_id)
        self.state = state

    # --- participation support (R-PAR-3, R-PAR-4) -------------------------------------------

    def match_host(self, actor: Actor, match: Json, host_registered: bool) -> None:
        """Match the person to a host of the municipality's register (R-PAR-3)."""
        state = self._decide("match_host", actor, host_registered=host_registered)
        self._host_matched(actor.as_dict(), state, match)

    @event("HostMatched")
    def _host_matched(self, actor: Json, state: str, match: Json) -> None:
        self.matches.append(match)
        self.connection_stable = False  # a new host: the connection starts anew
        self.state = state

    def record_settling_in(self, actor: Actor, record: Json) -> None:
        """Record settling-in support for the person or the host (R-PAR-3)."""
        state = self._decide("record_settling_in", actor)
        self._settling_in_recorded(actor.as_dict(), state, {**record, "host_id": self.host_id})

    @event("SettlingInSupportRecorded")
    def _settling_in_recorded(self, actor: Json, state: str, record: Json) -> None:
        self.settling_in.append(record)
        self.state = state

    def record_follow_up(self, actor: Actor, follow_up: Json) -> None:
        """Record a follow-up visit of the person or of the host (R-PAR-3)."""
        host_id = self.host_id if follow_up.get("party") == "host" else None
        state = self._decide(
            "record_follow_up",
            actor,
            party=follow_up.get("party"),
            host_id=follow_up.get("host_id") or host_id,
        )
        self._follow_up_recorded(actor.as_dict(), state, {**follow_up, "host_id": host_id})

    @event("FollowUpRecorded")
    def _follow_up_recorded(self, actor: Json, state: str, follow_up: Json) -> None:
        self.follow_ups.append(follow_up)
        if follow_up.get("party") == "person":
            if follow_up.get("contact_made"):
                self.attempts_since_contact = 0
            else:
                self.attempts_since_contact += 1
        if follow_up.get("connection_stable") is not None:
            self.connection_stable = bool(follow_up["connection_stable"])
        self.state = state

    def pay_cost(self, actor: Actor, payment: Json) -> None:
        """Record an actual-cost payment to a host the person was matched to (R-PAR-3)."""
        if str(payment.get("period_from")) > str(payment.get("period_to")):
            raise RuleViolation(
                "the period paid for ends before it starts",
                code="invalid_payment_period",
                rules=("R-PAR-3",),
            )
        state = self._decide(
            "pay_cost",
            actor,
            party="host",
            host_id=payment.get("host_id"),
            amount_yen=payment.get("amount_yen"),
        )
        self._cost_paid(actor.as_dict(), state, payment)

    @event("CostPaid")
    def _cost_paid(self, actor: Json, state: str, payment: Json) -> None:
        self.payments.append(payment)
        self.state = state

    # --- closure, suspension, resumption (R-MTG-5 C/D, R-PAR-4) ----------------------------

    def close(self, actor: Actor, meeting: MeetingEvidence, closure: Json) -> None:
        """Close at a closure meeting (C); participation only with a stable connection."""
        state = self._decide(
            "close_engagement",
            actor,
            meeting=meeting,
            timing=Timing.closure,
            plan_version=self._current_plan_version,
            next_contact_due=closure.get("next_contact_due"),
            contact_due_after=meeting.held_on,
        )
        self._closed(actor.as_dict(), state, meeting.meeting_id, closure)

    @event("EngagementClosed")
    def _closed(self, actor: Json, state: str, meeting_id: str, closure: Json) -> None:
        self.closures.append({**closure, "meeting_id": meeting_id})
        self.next_contact_due = closure.get("next_contact_due")
        self._record_meeting(meeting_id)
        self.state = state

    def suspend(self, actor: Actor, meeting: MeetingEvidence, reason: str) -> None:
        """Suspend at a suspension meeting (D) after recorded attempts (R-SUS-1, R-SUS-2)."""
        state = self._decide(
            "suspend_engagement",
            actor,
            meeting=meeting,
            timing=Timing.suspension,
            plan_version=self._current_plan_version,
        )
        self._suspended(actor.as_dict(), state, meeting.meeting_id, reason)

    @event("EngagementSuspended")
    def _suspended(self, actor: Json, state: str, meeting_id: str, reason: str) -> None:
        self.suspensions.append({"meeting_id": meeting_id, "reason": reason})
        self._record_meeting(meeting_id)
        self.state = state

    def resume(
        self, actor: Actor, reason: str, resumed_on: str, contact_restored_on: str | None = None
    ) -> None:
        """Resume after closure, or after suspension once contact is restored (R-SUS-3)."""
        state = self._decide("resume_engagement", actor, contact_restored_on=contact_restored_on)
        resumption = {
            "from_state": self.state,
            "reason": reason,
            "resumed_on": resumed_on,
            "contact_restored_on": contact_restored_on,
        }
        self._resumed(actor.as_dict(), state, resumption)

    @event("EngagementResumed")
    def _resumed(self, actor: Json, state: str, resumption: Json) -> None:
        self.resumptions.append(resumption)
        self.attempts_since_contact = 0
        # Support resumes because things changed: the connection is judged anew (R-PAR-4).
        self.connection_stable = False
        self.next_contact_due = None
        self.state = state

    def record_periodic_contact(self, actor: Actor, contact: Json) -> None:
        """Keep the relationship up after closure, with the next contact's date (R-PAR-4)."""
        state = self._decide(
            "record_periodic_contact",
            actor,
            next_contact_due=contact.get("next_contact_due"),
            contact_due_after=contact.get("on"),
        )
        self._periodic_contact_recorded(actor.as_dict(), state, contact)

    @event("PeriodicContactRecorded")
    def _periodic_contact_recorded(self, actor: Json, state: str, contact: Json) -> None:
        self.periodic_contacts.append(contact)
        self.next_contact_due = contact.get("next_contact_due")
        self.state = state


def _check_vocabulary(record: Json, key: str, vocabulary: type[StrEnum], rule: str) -> None:
    try:
        vocabulary(str(record.get(key)))
    except ValueError:
        raise RuleViolation(
            f"{key} must be one of {[v.value for v in vocabulary]}",
            code=f"invalid_{key}",
            rules=(rule,),
        ) from None
