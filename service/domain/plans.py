"""Versioned plans decided at meetings: what a case and each of its engagements share.

A case's plan (R-PLN-1..3) and an outreach or participation plan (R-OUT-4, R-PAR-2, R-PAR-5)
are versions in a list, each a draft until its meeting adopts it; the meetings whose decisions
were used are remembered so none is used twice (R-MTG-5, R-MTG-7).
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]


class PlanVersions:
    """Reading and adopting plan versions; mixed into aggregates that hold `plans`."""

    plans: list[Json]
    meeting_ids: list[str]

    @property
    def plan_in_draft(self) -> Json | None:
        """Return the plan version waiting for its meeting, if any."""
        last = self.plans[-1] if self.plans else None
        return last if last is not None and last["status"] == "draft" else None

    @property
    def current_plan(self) -> Json | None:
        """Return the plan in effect (R-PLN-2)."""
        in_effect = [p for p in self.plans if p["status"] == "in_effect"]
        return in_effect[-1] if in_effect else None

    @property
    def _current_plan_version(self) -> int | None:
        plan = self.current_plan
        return int(plan["version"]) if plan else None

    def _put_in_effect(self, plan: Json) -> None:
        for p in self.plans:
            if p["status"] == "in_effect":
                p["status"] = "superseded"
        plan["status"] = "in_effect"

    def _record_meeting(self, meeting_id: str) -> None:
        if meeting_id not in self.meeting_ids:
            self.meeting_ids.append(meeting_id)
