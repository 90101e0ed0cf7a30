"""Applies saved aggregates to the read models with a tracked position (rebuild: rebuild.py)."""

from __future__ import annotations

from collections.abc import Iterable

from eventsourcing.domain import Aggregate
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.domain.case import SupportCase
from service.domain.community_issue import CommunityIssue
from service.domain.engagement import ServiceEngagement
from service.domain.host import Host
from service.domain.meeting import Meeting
from service.persistence.crypto import KeyStore
from service.persistence.tables import projection_tracking
from service.projections.cases import project_case
from service.projections.engagements import project_engagement
from service.projections.meetings import project_meeting
from service.projections.registers import project_community_issue, project_host
from service.projections.worklists import project_case_worklist

TRACKING_NAME = "read_models"


def project(session: Session, aggregate: Aggregate, keys: KeyStore) -> None:
    """Write the views of one aggregate."""
    if isinstance(aggregate, SupportCase):
        project_case(session, aggregate, keys)
        project_case_worklist(session, aggregate)
    elif isinstance(aggregate, Meeting):
        project_meeting(session, aggregate, keys)
    elif isinstance(aggregate, Host):
        project_host(session, aggregate)
    elif isinstance(aggregate, CommunityIssue):
        project_community_issue(session, aggregate, keys)
    elif isinstance(aggregate, ServiceEngagement):
        project_engagement(session, aggregate, keys)


def position(session: Session) -> int:
    """Return the last notification id applied to the read models."""
    value = session.execute(
        select(projection_tracking.c.position).where(projection_tracking.c.name == TRACKING_NAME)
    ).scalar_one_or_none()
    return int(value or 0)


def advance(session: Session, new_position: int) -> None:
    """Record that the read models include every event up to `new_position`."""
    result = session.execute(
        update(projection_tracking)
        .where(projection_tracking.c.name == TRACKING_NAME)
        .values(position=new_position)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.execute(
            projection_tracking.insert().values(name=TRACKING_NAME, position=new_position)
        )


def apply_saved(
    session: Session, aggregates: Iterable[Aggregate], notification_ids: list[int], keys: KeyStore
) -> None:
    """Project aggregates just saved, in the same transaction as their events."""
    for aggregate in aggregates:
        project(session, aggregate, keys)
    if notification_ids:
        advance(session, max(max(notification_ids), position(session)))
