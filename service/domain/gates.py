"""The guards of the case workflow: one property per guard name of `workflows/support_case.yaml`."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from service.domain.evidence import MeetingEvidence
from service.domain.meeting import COORDINATION
from service.domain.values import COMPREHENSIVE_CONSULTATION_KINDS, Actor, Role, Timing
from service.domain.workflow import has_text

if TYPE_CHECKING:
    from service.domain.case import SupportCase


class MeetingGates:
    """The meeting gates a case and each of its engagements pass (R-MTG-2, R-MTG-5, R-MTG-6).

    The meeting evidence is one agenda item's: the coordination item for the case, the
    service's item for an outreach or participation engagement (R-OUT-4, R-PAR-5).
    """

    _context: dict[str, Any]

    def _get(self, key: str) -> Any:
        return self._context.get(key)

    def _meetings_used(self) -> Collection[str]:
        """Return the meetings whose decisions this aggregate has already used."""
        raise NotImplementedError

    def _service(self) -> str:
        """Return the service whose agenda items decide for this aggregate."""
        raise NotImplementedError

    @property
    def _meeting(self) -> MeetingEvidence | None:
        meeting = self._get("meeting")
        return meeting if isinstance(meeting, MeetingEvidence) else None

    @property
    def meeting_is_layered_support_meeting(self) -> bool:
        return self._meeting is not None and self._meeting.is_layered_support_meeting

    @property
    def meeting_has_mandatory_participants(self) -> bool:
        return self._meeting is not None and self._meeting.has_mandatory_participants

    @property
    def meeting_not_used_before(self) -> bool:
        return self._meeting is not None and self._meeting.meeting_id not in self._meetings_used()

    @property
    def meeting_approved_this_case(self) -> bool:
        timing = self._get("timing")
        return (
            self._meeting is not None
            and self._meeting.service == self._service()
            and isinstance(timing, Timing)
            and self._meeting.approved(timing, self._get("plan_version"))
        )


class CaseGates(MeetingGates):
    """Answers the workflow's guards for one command on one case; it never changes the case."""

    def __init__(self, case: SupportCase, actor: Actor, command: str, context: dict[str, Any]):
        self.state: str = case.state
        self._case = case
        self._actor = actor
        self._command = command
        self._context = context

    def _meetings_used(self) -> Collection[str]:
        return self._case.meeting_ids

    def _service(self) -> str:
        return COORDINATION

    # consent (R-INT-2, R-CON-1..3, R-CON-5)
    @property
    def has_application_for_use(self) -> bool:
        return self._case.has_application_for_use

    @property
    def lacks_application_for_use(self) -> bool:
        return not self._case.has_application_for_use

    @property
    def person_in_case(self) -> bool:
        return (self._get("consent") or {}).get("person_id") in self._case.person_ids

    @property
    def application_by_main_person(self) -> bool:
        consent = self._get("consent") or {}
        return not consent.get("application_for_use") or consent.get("person_id") == "person"

    @property
    def consent_is_active(self) -> bool:
        return any(c["consent_id"] == self._get("consent_id") for c in self._case.active_consents())

    @property
    def withdraws_application(self) -> bool:
        remaining = [
            c
            for c in self._case.active_consents("person")
            if c.get("application_for_use") and c["consent_id"] != self._get("consent_id")
        ]
        return not remaining

    @property
    def keeps_application(self) -> bool:
        return not self.withdraws_application

    # intake (R-INT-4)
    @property
    def referrer_consulted(self) -> bool:
        consultation = self._get("consultation") or {}
        return has_text(consultation.get("consulted_on")) and has_text(consultation.get("summary"))

    # plan (R-PLN-1, R-DEC-3)
    @property
    def early_start_has_reason(self) -> bool:
        return has_text(self._get("reason"))

    @property
    def plan_is_complete(self) -> bool:
        plan = self._get("plan") or {}
        return bool(
            plan.get("goals")
            and has_text(plan.get("policy"))
            and plan.get("roles")
            and plan.get("monitoring_dates")
        )

    @property
    def plan_includes_early_starts(self) -> bool:
        services = set((self._get("plan") or {}).get("services", []))
        return {s["service"] for s in self._case.early_starts} <= services

    @property
    def has_draft_plan(self) -> bool:
        return self._case.plan_in_draft is not None

    @property
    def plan_needs_support_decision(self) -> bool:
        draft = self._case.plan_in_draft
        return bool(draft and draft.get("services"))

    @property
    def plan_needs_no_support_decision(self) -> bool:
        return not self.plan_needs_support_decision

    # the support decision (R-DEC-1, R-DEC-2)
    @property
    def actor_is_municipality(self) -> bool:
        return self._actor.role is Role.municipality

    @property
    def refusal_has_reason(self) -> bool:
        return has_text(self._get("reason"))

    @property
    def decision_granted(self) -> bool:
        return self._get("granted") is True

    def _refused_at(self, timing: Timing) -> bool:
        pending = self._case.pending_plan or {}
        return self._get("granted") is False and pending.get("timing") == timing

    @property
    def decision_refused_first_plan(self) -> bool:
        return self._refused_at(Timing.plan)

    @property
    def decision_refused_replan(self) -> bool:
        return self._refused_at(Timing.replan)

    # closure (R-END-2, R-END-3)
    @property
    def lead_agency_in_plan(self) -> bool:
        plan = self._case.current_plan or {}
        lead = (self._get("closure") or {}).get("lead_agency_id")
        return bool(lead) and lead in {r.get("agency_id") for r in plan.get("roles", [])}

    @property
    def hand_back_to_comprehensive_consultation(self) -> bool:
        hand_back = (self._get("closure") or {}).get("hand_back")
        return not hand_back or hand_back.get("agency_kind") in COMPREHENSIVE_CONSULTATION_KINDS

    # suspension (R-SUS-1..3)
    @property
    def contact_attempts_recorded(self) -> bool:
        outreach = self._get("outreach_attempts") or 0  # outreach visits count too (R-SUS-2)
        return self._case.attempts_since_contact + outreach > 0

    @property
    def contact_restored(self) -> bool:
        return has_text(self._get("contact_restored_on"))
