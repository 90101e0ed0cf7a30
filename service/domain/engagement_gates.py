"""The guards of the outreach and participation workflows: one property per guard name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from service.domain.evidence import MeetingEvidence
from service.domain.values import Actor, Timing
from service.domain.workflow import has_text

if TYPE_CHECKING:
    from service.domain.engagement import ServiceEngagement


class EngagementGates:
    """Answers the guards for one command on one engagement; it never changes the engagement."""

    def __init__(
        self, engagement: ServiceEngagement, actor: Actor, command: str, context: dict[str, Any]
    ):
        self.state: str = engagement.state
        self._engagement = engagement
        self._actor = actor
        self._command = command
        self._context = context

    def _get(self, key: str) -> Any:
        return self._context.get(key)

    # outreach records before consent (R-OUT-3, R-CON-2)
    @property
    def record_within_council_track(self) -> bool:
        return self._get("notes") is None or self._get("person_consented") is True

    # intake and plans (R-PAR-2, R-PLN-1)
    @property
    def intake_recorded(self) -> bool:
        return bool(self._engagement.intakes)

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
    def has_draft_plan(self) -> bool:
        return self._engagement.plan_in_draft is not None

    # the meeting gates (R-MTG-2, R-MTG-5, R-MTG-6, R-OUT-4, R-PAR-5)
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
        return (
            self._meeting is not None
            and self._meeting.meeting_id not in self._engagement.meeting_ids
        )

    @property
    def meeting_approved_this_case(self) -> bool:
        timing = self._get("timing")
        return (
            self._meeting is not None
            and self._meeting.service == self._engagement.service
            and isinstance(timing, Timing)
            and self._meeting.approved(timing, self._get("plan_version"))
        )

    # hosts, follow-ups and payments (R-PAR-3)
    @property
    def host_in_register(self) -> bool:
        return self._get("host_registered") is True

    @property
    def host_matched(self) -> bool:
        return self._engagement.host_id is not None

    @property
    def no_host_matched(self) -> bool:
        return not self.host_matched

    @property
    def party_is_matched_host(self) -> bool:
        party = self._get("party")
        if party == "person":
            return True
        if self._command == "pay_cost":
            return self._get("host_id") in self._engagement.matched_host_ids
        current = self._engagement.host_id
        return party == "host" and current is not None and self._get("host_id") == current

    @property
    def payment_is_positive(self) -> bool:
        amount = self._get("amount_yen")
        return isinstance(amount, int) and not isinstance(amount, bool) and amount > 0

    # closure and periodic contact (R-PAR-4)
    @property
    def connection_is_stable(self) -> bool:
        return self._engagement.host_id is not None and self._engagement.connection_stable

    @property
    def periodic_contact_scheduled(self) -> bool:
        due, after = self._get("next_contact_due"), self._get("contact_due_after")
        return has_text(due) and (not has_text(after) or str(due) > str(after))

    # suspension (R-SUS-1..3)
    @property
    def contact_attempts_recorded(self) -> bool:
        return self._engagement.attempts_since_contact > 0

    @property
    def contact_restored(self) -> bool:
        return has_text(self._get("contact_restored_on"))
