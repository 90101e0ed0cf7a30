"""The event index: each stored event's tenant, type and hash chained to its stream's previous.

Written in the command's transaction, so the tenant feed never misses an event and the chain
covers every event (`verify.py` recomputes it from the stored rows).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Recording
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from service.persistence.tables import event_index

GENESIS = "0" * 64


def event_hash(previous: str, originator_id: str, version: int, topic: str, state: bytes) -> str:
    """SHA-256 over the previous hash and the event as stored (canonical: fixed field order)."""
    digest = hashlib.sha256()
    for part in (previous, originator_id, str(version), topic):
        digest.update(part.encode())
        digest.update(b"\x00")
    digest.update(state)
    return digest.hexdigest()


def index_recordings(
    session: Session, aggregates: Iterable[Aggregate], recordings: list[Recording[Any]]
) -> None:
    """Append one index row per recorded event, in notification order."""
    tenants = {str(a.id): getattr(a, "municipality_id", "") for a in aggregates}
    last: dict[str, str] = {}
    for recording in sorted(recordings, key=lambda r: r.notification.id):
        n = recording.notification
        originator = str(n.originator_id)
        previous = last.get(originator)
        if previous is None:
            previous = (
                session.execute(
                    select(event_index.c.hash)
                    .where(event_index.c.originator_id == originator)
                    .order_by(event_index.c.originator_version.desc())
                    .limit(1)
                ).scalar_one_or_none()
                or GENESIS
            )
        digest = event_hash(previous, originator, n.originator_version, n.topic, n.state)
        session.execute(
            insert(event_index).values(
                notification_id=n.id,
                originator_id=originator,
                originator_version=n.originator_version,
                municipality_id=tenants[originator],
                event_type=type(recording.domain_event).__name__,
                hash=digest,
                previous_hash=previous,
            )
        )
        last[originator] = digest


def tenant_of(engine: Engine, aggregate_id: UUID) -> str | None:
    """Return the municipality of a stored aggregate (None: no such aggregate), read from the
    index alone: a command or query checks the tenant before it reads any event."""
    with engine.connect() as conn:
        tenant: str | None = conn.execute(
            select(event_index.c.municipality_id).where(
                event_index.c.originator_id == str(aggregate_id),
                event_index.c.originator_version == 1,
            )
        ).scalar_one_or_none()
    return tenant
