"""What an engagement has due on the worklists (R-SUP-1, R-SUP-2, R-PAR-4)."""

from __future__ import annotations

from datetime import date

from service.domain.case import SupportCase
from service.domain.values import Timing
from service.projections.engagements import engagement_items, next_monitoring_date
from tests.unit.engagement_support import (
    activity,
    early,
    engagement_plan,
    follow_up,
    outreach_in_support,
    service_meeting,
    settling_in,
)
from tests.unit.support import OUTREACH, PARTICIPATION, in_planning


def test_R_SUP_2_the_services_next_monitoring_date_is_due_for_its_provider(
    yamada: SupportCase,
) -> None:
    """R-SUP-1, R-SUP-2: the earliest monitoring date of the service's plan after the latest
    recorded activity is due for the provider; a record after it moves it on."""
    engagement = outreach_in_support(yamada)
    assert next_monitoring_date(engagement) == date(2026, 7, 15)
    [item] = engagement_items(engagement)
    assert (item.kind, item.due_on, item.agency_id) == (
        "monitoring",
        date(2026, 7, 15),
        "outreach-hikari",
    )
    assert item.role == "outreach_provider"
    assert item.label == "アウトリーチ等を通じた継続的支援事業のモニタリング（プラン第1版）"
    engagement.record_activity(OUTREACH, activity(on="2026-07-20"), person_consented=True)
    assert next_monitoring_date(engagement) == date(2026, 9, 15)
    engagement.record_activity(OUTREACH, activity(on="2026-09-20"), person_consented=True)
    assert engagement_items(engagement) == []


def test_R_PAR_4_periodic_contact_is_due_after_closure(suzuki: SupportCase) -> None:
    """R-PAR-4: after closure the next periodic contact is due; monitoring is not."""
    engagement = settling_in(suzuki)
    engagement.record_follow_up(PARTICIPATION, follow_up("host", connection_stable=True))
    engagement.close(
        PARTICIPATION,
        service_meeting(suzuki, "participation", Timing.closure, 1),
        {"next_contact_due": "2026-12-01"},
    )
    assert [(i.kind, i.due_on) for i in engagement_items(engagement)] == [
        ("follow_up", date(2026, 12, 1))
    ]


def test_R_OUT_4_a_draft_plan_of_the_service_awaits_its_meeting(yamada: SupportCase) -> None:
    """R-OUT-4, R-PAR-5, R-MTG-5: a service's plan draft is a plan awaiting a meeting: the
    coordinators (who put it on a meeting's agenda) see it from the day it was drafted; once
    the meeting adopted it the item is gone."""
    in_planning(yamada)
    engagement = early(yamada, "outreach")
    version = engagement.draft_plan(OUTREACH, {**engagement_plan(), "drafted_on": "2026-05-02"})
    [item] = engagement_items(engagement)
    assert (item.kind, item.due_on, item.agency_id, item.role) == (
        "plan_meeting",
        date(2026, 5, 2),
        None,
        "coordinator",
    )
    assert item.label == "アウトリーチ等を通じた継続的支援事業のプラン第1版案の重層的支援会議待ち"
    engagement.approve_plan(OUTREACH, service_meeting(yamada, "outreach", Timing.plan, version))
    assert [i.kind for i in engagement_items(engagement)] == ["monitoring"]
