"""eventsourcing-sqlalchemy's recorders with SQLAlchemy Core statements instead of the ORM.

Same tables, same transactions, same locking (`LOCK TABLE` on PostgreSQL, the datastore's write
lock on SQLite) and the same exceptions; only the unit-of-work and per-row ORM objects are gone,
which took most of an append's and a replay's time (bench/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing_sqlalchemy.recorders import (
    SQLAlchemyAggregateRecorder,
    SQLAlchemyApplicationRecorder,
)
from sqlalchemy import Select, Table, func, insert, select
from sqlalchemy.orm import Session


def _bytes(state: Any) -> bytes:
    return bytes(state) if isinstance(state, memoryview) else state


def _select_events(
    recorder: SQLAlchemyAggregateRecorder,
    originator_id: UUID | str,
    gt: int | None,
    lte: int | None,
    desc: bool,
    limit: int | None,
) -> list[StoredEvent]:
    table: Table = recorder.events_record_cls.__table__
    version = table.c.originator_version
    query: Select[Any] = select(table.c.topic, version, table.c.state).where(
        table.c.originator_id == originator_id
    )
    if gt is not None:
        query = query.where(version > gt)
    if lte is not None:
        query = query.where(version <= lte)
    query = query.order_by(version.desc() if desc else version)
    if limit is not None:
        query = query.limit(limit)
    with recorder.transaction(commit=False) as session:
        rows = session.execute(query).all()
    uid = originator_id if isinstance(originator_id, UUID) else UUID(originator_id)
    return [
        StoredEvent(originator_id=uid, originator_version=r[1], topic=r[0], state=_bytes(r[2]))
        for r in rows
    ]


class CoreAggregateRecorder(SQLAlchemyAggregateRecorder):
    """The snapshots' recorder, reading with one Core SELECT."""

    def select_events(
        self,
        originator_id: UUID | str,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        """Return the stored events of one originator (see the library's method)."""
        return _select_events(self, originator_id, gt, lte, desc, limit)


class CoreApplicationRecorder(SQLAlchemyApplicationRecorder):
    """The events' recorder: Core INSERT … RETURNING and Core SELECTs."""

    def select_events(
        self,
        originator_id: UUID | str,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        """Return the stored events of one originator (see the library's method)."""
        return _select_events(self, originator_id, gt, lte, desc, limit)

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        if not stored_events:
            return []
        table: Table = self.events_record_cls.__table__
        self._lock_table(session)  # PostgreSQL: notification ids commit in order
        rows = [
            {
                "originator_id": e.originator_id,
                "originator_version": e.originator_version,
                "topic": e.topic,
                "state": e.state,
            }
            for e in stored_events
        ]
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = [int(i) for i in session.execute(statement, rows).scalars()]
        self._notify_channel(session)
        return ids

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> list[Notification]:
        """Return notifications in id order (see the library's method)."""
        table: Table = self.events_record_cls.__table__
        query: Select[Any] = select(
            table.c.id,
            table.c.originator_id,
            table.c.originator_version,
            table.c.topic,
            table.c.state,
        )
        if start is not None:
            query = query.where(table.c.id >= start if inclusive_of_start else table.c.id > start)
        if stop is not None:
            query = query.where(table.c.id <= stop)
        if topics:
            query = query.where(table.c.topic.in_(topics))
        query = query.order_by(table.c.id).limit(limit)
        with self.transaction(commit=False) as session:
            rows = session.execute(query).all()
        return [
            Notification(
                id=r[0], originator_id=r[1], originator_version=r[2], topic=r[3], state=_bytes(r[4])
            )
            for r in rows
        ]

    def max_id(self) -> int:
        """Return the highest notification id (0 for an empty store)."""
        table: Table = self.events_record_cls.__table__
        with self.transaction(commit=False) as session:
            return int(session.execute(select(func.max(table.c.id))).scalar() or 0)

    def select_streams(
        self, after: UUID | None, originators: int, stop: int
    ) -> tuple[list[Notification], UUID | None]:
        """Return every event (id <= `stop`) of the next `originators` aggregates after `after`
        in id order of the aggregates, each aggregate's events in version order; and the last
        aggregate's id (None when there are no more)."""
        table: Table = self.events_record_cls.__table__
        ids_query = (
            select(table.c.originator_id)
            .where(table.c.originator_version == 1, table.c.id <= stop)
            .order_by(table.c.originator_id)
            .limit(originators)
        )
        if after is not None:
            ids_query = ids_query.where(table.c.originator_id > after)
        with self.transaction(commit=False) as session:
            ids = list(session.execute(ids_query).scalars())
            if not ids:
                return [], None
            rows = session.execute(
                select(
                    table.c.id,
                    table.c.originator_id,
                    table.c.originator_version,
                    table.c.topic,
                    table.c.state,
                )
                .where(table.c.originator_id.in_(ids), table.c.id <= stop)
                .order_by(table.c.originator_id, table.c.originator_version)
            ).all()
        notifications = [
            Notification(
                id=r[0], originator_id=r[1], originator_version=r[2], topic=r[3], state=_bytes(r[4])
            )
            for r in rows
        ]
        return notifications, ids[-1]
