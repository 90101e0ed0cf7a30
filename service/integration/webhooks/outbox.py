"""The webhook outbox: rows written in the command's transaction, one per subscription × event.

The payload is the feed's CloudEvents envelope (`feed.cloud_event`: same id, type, source and
sequence) with `data` cut down to the case or meeting id, its version and the case's state: a
webhook leaves the service, so it carries no personal data and no free text at all. A receiver
that needs more reads the case through the API, under its permissions and the access log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Recording
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from service.domain.case import SupportCase
from service.domain.engagement import ServiceEngagement
from service.domain.meeting import Meeting
from service.integration.feed import cloud_event
from service.persistence.tables import webhook_outbox as outbox
from service.persistence.tables import webhook_subscriptions as subscriptions

PENDING, DELIVERED, DEAD, CANCELLED = "pending", "delivered", "dead", "cancelled"


def stamp(moment: datetime) -> str:
    """Return the stored form of a moment: UTC ISO 8601 with microseconds (sorts as text)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def envelope(
    municipality_id: str, event: Any, position: int, case_id: str | None = None
) -> dict[str, Any]:
    """Return the webhook envelope of a stored event: ids, type, version, state; nothing else.

    `case_id` names the case an engagement (outreach or participation support) belongs to.
    """
    stream = str(event.originator_id)
    data: dict[str, Any] = {"version": event.originator_version}
    if isinstance(event, Meeting.Event):
        data["meeting_id"] = stream
    elif isinstance(event, ServiceEngagement.Event):
        data.update(engagement_id=stream, case_id=case_id, state=getattr(event, "state", None))
    elif isinstance(event, SupportCase.Event):
        data.update(case_id=stream, state=getattr(event, "state", None))
    else:
        data["aggregate_id"] = stream
    return {**cloud_event(municipality_id, position, event), "data": data}


def enqueue(
    session: Session, aggregates: Iterable[Aggregate], recordings: list[Recording[Any]]
) -> None:
    """Write one pending outbox row per (matching active subscription, recorded event)."""
    tenants = {str(a.id): getattr(a, "municipality_id", "") for a in aggregates}
    cases = {str(a.id): getattr(a, "case_id", None) for a in aggregates}
    wanted: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    rows = []
    for recording in sorted(recordings, key=lambda r: r.notification.id):
        n, event = recording.notification, cast(Any, recording.domain_event)
        tenant = tenants[str(n.originator_id)]
        if tenant not in wanted:
            wanted[tenant] = [
                (s.id, tuple(json.loads(s.event_types)))
                for s in session.execute(
                    select(subscriptions.c.id, subscriptions.c.event_types).where(
                        subscriptions.c.municipality_id == tenant, subscriptions.c.active == 1
                    )
                )
            ]
        name = type(event).__name__
        matching = [sid for sid, types in wanted[tenant] if not types or name in types]
        if not matching:
            continue
        payload = json.dumps(
            envelope(tenant, event, n.id, cases[str(n.originator_id)]),
            ensure_ascii=False,
            sort_keys=True,
        )
        due = stamp(event.timestamp)
        rows += [
            {
                "subscription_id": sid,
                "notification_id": n.id,
                "municipality_id": tenant,
                "case_id": str(n.originator_id),
                "payload": payload,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": due,
            }
            for sid in matching
        ]
    if rows:
        session.execute(insert(outbox), rows)
