"""What a meeting proves about one case: the evidence a gate of R-MTG-5 is checked against."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.values import MeetingKind, Outcome, Role, Timing


@dataclass(frozen=True)
class AgendaDecision:
    """One agenda item's timing, plan version and outcome for a case (R-MTG-7)."""

    timing: Timing
    plan_version: int | None
    outcome: Outcome


@dataclass(frozen=True)
class MeetingEvidence:
    """A meeting as seen by the gate of one case (coordination) or one of its engagements."""

    meeting_id: str
    kind: MeetingKind
    attended_roles: frozenset[Role]
    decision: AgendaDecision | None
    held_on: str | None = None
    service: str = "coordination"  # the service whose agenda item `decision` is (R-OUT-4, R-PAR-5)

    @property
    def is_layered_support_meeting(self) -> bool:
        """Only the layered support meeting counts for a gate (R-MTG-6, R-CON-2)."""
        return self.kind is MeetingKind.layered_support_meeting

    @property
    def has_mandatory_participants(self) -> bool:
        """The coordinator and the municipality attended (R-MTG-2)."""
        return {Role.coordinator, Role.municipality} <= self.attended_roles

    def approved(self, timing: Timing, plan_version: int | None) -> bool:
        """The meeting approved this timing for this plan version of the case (R-MTG-5)."""
        d = self.decision
        return (
            d is not None
            and d.timing is timing
            and d.plan_version == plan_version
            and d.outcome is Outcome.approved
        )
