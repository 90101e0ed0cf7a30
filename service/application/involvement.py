"""Writes check involvement, not only the role: the facts the domain rule reads, gathered.

The rule itself is `service/domain/involvement.py`; this mixin finds the case's engagements and
the support councils that took the case, and only for agencies that are not case runners, so a
coordinator's command costs nothing more.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sqlalchemy import select

from service.domain.engagement_values import SERVICES
from service.domain.errors import NotFound
from service.domain.involvement import CASE_RUNNERS, Involvement, ensure_involved
from service.persistence.tables import case_meetings, meeting_list

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from service.domain.case import SupportCase
    from service.domain.engagement import ServiceEngagement
    from service.domain.values import Actor


class InvolvementChecks:
    """Mixed into `Kasane`; uses its `engine` and `_engagement_of`."""

    if TYPE_CHECKING:

        @property
        def engine(self) -> Engine: ...

        def _engagement_of(self, case: SupportCase, service: str) -> ServiceEngagement: ...

    def ensure_involved(self, actor: Actor, case: SupportCase, command: str) -> Involvement:
        """Refuse `command` unless the actor's agency takes part in the case (403)."""
        if actor.role in CASE_RUNNERS and actor.municipality_id == case.municipality_id:
            return Involvement.case_runner
        return ensure_involved(
            actor,
            case,
            command,
            engagements=self._engagements(case),
            council_members=self._council_members(str(case.id)),
        )

    def _engagements(self, case: SupportCase) -> Iterator[ServiceEngagement]:
        """Yield the case's started engagements, loading each only when the rule asks."""
        for service in SERVICES:
            try:
                yield self._engagement_of(case, service)
            except NotFound:
                continue

    def _council_members(self, case_id: str) -> set[str]:
        """Return the agencies that attended a support council that took the case (R-CON-2)."""
        with self.engine.connect() as conn:
            documents = conn.execute(
                select(meeting_list.c.document)
                .join(case_meetings, case_meetings.c.meeting_id == meeting_list.c.meeting_id)
                .where(
                    case_meetings.c.case_id == case_id,
                    case_meetings.c.kind == "support_council",
                )
            ).scalars()
            return {
                p["agency_id"]
                for document in documents
                for p in json.loads(document)["participants"]
                if p.get("attended", True)
            }
