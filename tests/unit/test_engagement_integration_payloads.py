"""Engagement events leaving the service: the feed and webhook envelopes (R-OUT-3, R-CON-4).

An engagement record's notes are the person's data: sealed in the store, and dropped from the
feed altogether. A webhook about an engagement names the case it belongs to.
"""

from __future__ import annotations

from typing import Any

from service.domain.case import SupportCase
from service.integration.feed import cloud_event
from service.integration.webhooks.outbox import envelope
from tests.unit.engagement_support import activity, outreach_in_support
from tests.unit.support import OUTREACH


def _activity_event(case: SupportCase) -> tuple[Any, Any]:
    engagement = outreach_in_support(case)
    engagement.record_activity(
        OUTREACH, activity(contact_made=True, notes="SEALED-NOTES"), person_consented=True
    )
    return engagement, engagement.collect_events()[-1]


def test_the_feed_drops_engagement_notes(yamada: SupportCase) -> None:
    """R-OUT-3, R-CON-4: the feed carries the activity's facts, never its notes."""
    _, event = _activity_event(yamada)
    data = cloud_event("demo-city", 7, event)["data"]
    assert "SEALED-NOTES" not in repr(data)
    record = data["activity"]
    assert record["kind"] == "home_visit" and "notes" not in record
    assert cloud_event("demo-city", 7, event)["source"] == "/municipalities/demo-city/engagements"


def test_a_webhook_about_an_engagement_names_its_case(yamada: SupportCase) -> None:
    """The envelope carries the engagement id and the case id, and no free text."""
    engagement, event = _activity_event(yamada)
    data = envelope("demo-city", event, 7, str(yamada.id))["data"]
    assert data["engagement_id"] == str(engagement.id)
    assert data["case_id"] == str(yamada.id)
    assert set(data) == {"engagement_id", "case_id", "state", "version"}
