"""Builders of the outreach and participation unit tests (EXAMPLES.md 1, 3 and 5).

Every builder goes through the public commands of the aggregates, like `support.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.domain.case import SupportCase
from service.domain.engagement import ServiceEngagement
from service.domain.evidence import MeetingEvidence
from service.domain.values import Actor, Timing
from tests.unit.support import (
    COORDINATOR,
    OUTREACH,
    PARTICIPATION,
    hold_meeting,
    in_planning,
    in_support,
)

Json = dict[str, Any]

HOST_FARM = "host-asahi-farm"  # 朝日ファーム: farm work experience (EXAMPLES.md 1)
HOST_CAFE = "host-ibasho-cafe"


def early(case: SupportCase, service: str, actor: Actor | None = None) -> ServiceEngagement:
    """Start `service` early with a reason (R-DEC-3)."""
    return ServiceEngagement.begin(
        actor or (OUTREACH if service == "outreach" else PARTICIPATION),
        case,
        service,
        "early_start",
        "長期のひきこもりで早期の関わりが必要",
        "2026-04-10",
    )


def decided(case: SupportCase, service: str) -> ServiceEngagement:
    """Start `service` on the plan in effect with the municipality's decision (R-PAR-1)."""
    actor = OUTREACH if service == "outreach" else PARTICIPATION
    return ServiceEngagement.begin(actor, case, service, "support_decision", "", "2026-06-15")


def activity(
    kind: str = "home_visit",
    *,
    on: str = "2026-04-12",
    contact_made: bool = False,
    outcome: str = "no_response",
    notes: Any = None,
    person_id: str = "person",
) -> Json:
    """Return an outreach activity record (R-OUT-2)."""
    return {
        "kind": kind,
        "on": on,
        "outcome": outcome,
        "contact_made": contact_made,
        "notes": notes,
        "person_id": person_id,
    }


def engagement_plan(
    *,
    goals: Sequence[str] = ("タロウさんと定期的に会える関係をつくる",),
    policy: str = "月2回の家庭訪問と手紙で関係をつくる",
    monitoring_dates: Sequence[str] = ("2026-07-15", "2026-09-15"),
    host: bool = False,
) -> Json:
    """Return a complete plan of a service (goals, policy, roles incl. the host, monitoring)."""
    roles = [
        {"party": "provider", "agency_id": OUTREACH.agency_id, "role": "家庭訪問"},
        {"party": "coordinator", "agency_id": COORDINATOR.agency_id, "role": "全体調整"},
    ]
    if host:
        roles.append({"party": "host", "agency_id": None, "role": "就労体験の受け入れ"})
    return {
        "goals": list(goals),
        "policy": policy,
        "roles": roles,
        "monitoring_dates": list(monitoring_dates),
    }


def service_meeting(
    case: SupportCase,
    service: str,
    timing: Timing | str,
    plan_version: int | None,
    outcome: str = "approved",
) -> MeetingEvidence:
    """Hold a layered support meeting deciding on the service's plan; return its evidence."""
    meeting = hold_meeting(
        [
            {
                "case_id": str(case.id),
                "service": service,
                "timing": str(timing),
                "plan_version": plan_version,
                "outcome": outcome,
            }
        ]
    )
    return meeting.evidence_for(str(case.id), service)


def approved(case: SupportCase, engagement: ServiceEngagement, actor: Actor) -> ServiceEngagement:
    """Draft the service's plan v1 and approve it at meeting A."""
    version = engagement.draft_plan(actor, engagement_plan(host=engagement.service != "outreach"))
    engagement.approve_plan(actor, service_meeting(case, engagement.service, Timing.plan, version))
    return engagement


def outreach_in_support(case: SupportCase) -> ServiceEngagement:
    """山田 8050: outreach started early in planning, its plan v1 approved at meeting A."""
    in_planning(case)
    engagement = early(case, "outreach")
    return approved(case, engagement, OUTREACH)


def participation_in_matching(case: SupportCase) -> ServiceEngagement:
    """鈴木ケン: participation decided with plan v1, intake, assessment, plan approved at A."""
    in_support(case, ("participation",))
    engagement = decided(case, "participation")
    engagement.record_intake(PARTICIPATION, {"on": "2026-06-16", "concerns": ["仕事"]})
    engagement.assess(PARTICIPATION, {"on": "2026-06-20", "domains": ["就労", "住まい"]})
    approved(case, engagement, PARTICIPATION)
    assert engagement.state == "matching"
    return engagement


def settling_in(case: SupportCase) -> ServiceEngagement:
    """Matched to the farm host (R-PAR-3)."""
    engagement = participation_in_matching(case)
    engagement.match_host(
        PARTICIPATION,
        {"host_id": HOST_FARM, "menu": "農作業の就労体験", "starts_on": "2026-07-01"},
        host_registered=True,
    )
    assert engagement.state == "settling_in"
    return engagement


def follow_up(
    party: str = "person",
    *,
    on: str = "2026-07-15",
    contact_made: bool = True,
    connection_stable: bool | None = None,
) -> Json:
    """Return a follow-up of the person or of the host (R-PAR-3)."""
    return {
        "on": on,
        "party": party,
        "contact_made": contact_made,
        "connection_stable": connection_stable,
    }


def payment(host_id: str = HOST_FARM, amount_yen: Any = 12000) -> Json:
    """Return an actual-cost payment to a host (R-PAR-3)."""
    return {
        "host_id": host_id,
        "amount_yen": amount_yen,
        "period_from": "2026-07-01",
        "period_to": "2026-07-31",
        "purpose": "受け入れに要した実費（7月分）",
        "paid_on": "2026-08-10",
    }
