"""Rebuild the read models one aggregate at a time: memory holds one aggregate, not the store.

Every view row is a projection of one aggregate's current state (runner.project), so folding
the aggregates one after another gives the same views as folding the events in commit order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from service.persistence.crypto import KeyStore
from service.persistence.tables import READ_MODEL_TABLES
from service.projections.runner import advance, project


def rebuild_by_aggregate(
    session: Session, events: Iterator[tuple[int, Any]], keys: KeyStore, position: int
) -> int:
    """Empty the views, then fold and project each aggregate's events (which `events` yields
    aggregate after aggregate, each in version order); record and return `position`."""
    for table in READ_MODEL_TABLES:
        session.execute(delete(table))
    current: Any = None
    for _, domain_event in events:
        if current is not None and domain_event.originator_id != current.id:
            project(session, current, keys)
            current = None
        current = domain_event.mutate(current)
    if current is not None:
        project(session, current, keys)
    advance(session, position)
    return position
