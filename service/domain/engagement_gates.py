"""The guards of the outreach and participation workflows: one property per guard name."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from service.domain.gates import MeetingGates
from service.domain.values import Actor
from service.domain.workflow import has_text

if TYPE_CHECKING:
    from service.domain.engagement import ServiceEngagement


class EngagementGates(MeetingGates):
    """Answers the guards for one command on one engagement; it never changes the engagement."""

    def __init__(
        self, engagement: ServiceEngagement, actor: Actor, command: str, context: dict[str, Any]
    ):
        self.state: str = engagement.state
        self._engagement = engagement
        self._actor = actor
        self._command = command
        self._context = context

    def _meetings_used(self) -> Collection[str]:
        return self._engagement.meeting_ids

    def _service(self) -> str:
        return str(self._engagement.service)

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
