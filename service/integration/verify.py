"""Tamper evidence: recompute each stream's hash chain from the stored rows and report the breaks.

Reads the raw rows of the event store and of the event index (never through the repository, which
may fail on a tampered row) and compares them version by version. Each finding has a stable kind.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, MetaData, Table, Text, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy_utils.types.uuid import UUIDType

from service.domain.errors import NotFound
from service.integration.index import GENESIS, event_hash
from service.persistence.schema import EVENTS_TABLE
from service.persistence.tables import event_index

# The event store's columns as eventsourcing-sqlalchemy writes them (migrations/ 0001).
stored_events = Table(
    EVENTS_TABLE,
    MetaData(),
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("originator_id", UUIDType()),
    Column("originator_version", BigInteger().with_variant(Integer(), "sqlite")),
    Column("topic", Text),
    Column("state", LargeBinary),
)


class Kind(StrEnum):
    """What a finding says happened to the stored history."""

    altered_event = "altered_event"  # content or topic no longer matches the indexed hash
    removed_event = "removed_event"  # an indexed event is missing, or a version is missing
    inserted_event = "inserted_event"  # a stored event has no index row
    reordered_event = "reordered_event"  # the row holds what was indexed at another position
    index_tampered = "index_tampered"  # an index row's hash or previous_hash was edited
    broken_chain = "broken_chain"  # an index row does not link to the one before it


@dataclass(frozen=True)
class Finding:
    """One break of a stream's chain, at one version."""

    kind: Kind
    stream_id: str
    version: int
    detail: str


@dataclass(frozen=True)
class StreamReport:
    """The verification of one stream (a case or a meeting)."""

    stream_id: str
    events: int
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """Return whether nothing was found."""
        return not self.findings


@dataclass(frozen=True)
class _Stored:
    id: int
    topic: str
    state: bytes


@dataclass(frozen=True)
class _Indexed:
    notification_id: int
    hash: str
    previous_hash: str


def _rows(connection: Connection, stream_id: str) -> tuple[dict[int, _Stored], dict[int, _Indexed]]:
    e, i = stored_events.c, event_index.c
    stored = {
        r.originator_version: _Stored(r.id, r.topic, bytes(r.state))
        for r in connection.execute(
            select(e.id, e.originator_version, e.topic, e.state)
            .where(e.originator_id == UUID(stream_id))
            .order_by(e.originator_version)
        )
    }
    indexed = {
        r.originator_version: _Indexed(r.notification_id, r.hash, r.previous_hash)
        for r in connection.execute(
            select(i.notification_id, i.originator_version, i.hash, i.previous_hash)
            .where(i.originator_id == stream_id)
            .order_by(i.originator_version)
        )
    }
    return stored, indexed


def _check(
    stream_id: str, stored: dict[int, _Stored], indexed: dict[int, _Indexed]
) -> list[Finding]:
    findings: list[Finding] = []

    def found(kind: Kind, version: int, detail: str) -> None:
        findings.append(Finding(kind, stream_id, version, detail))

    def digest(previous: str, version: int, topic: str, state: bytes) -> str:
        return event_hash(previous, stream_id, version, topic, state)

    versions = sorted(stored.keys() | indexed.keys())
    for version in range(1, versions[-1] + 1 if versions else 1):
        if version not in stored and version not in indexed:
            found(Kind.removed_event, version, "missing from the event store and from the index")
    explained: set[int] = set()  # link breaks an earlier finding already accounts for
    for version in versions:
        event, link = stored.get(version), indexed.get(version)
        if link is None:
            found(Kind.inserted_event, version, "stored event has no index row")
            continue
        before = indexed.get(version - 1)
        expected = GENESIS if version == 1 else (before.hash if before else None)
        if expected is not None and link.previous_hash != expected and version not in explained:
            if event and digest(expected, version, event.topic, event.state) == link.hash:
                found(Kind.index_tampered, version, "previous_hash of the index row was edited")
                continue
            found(Kind.broken_chain, version, f"index row does not link to version {version - 1}")
        if event is None:
            found(Kind.removed_event, version, "indexed event is missing from the event store")
            continue
        recomputed = digest(link.previous_hash, version, event.topic, event.state)
        if recomputed == link.hash:
            if event.id != link.notification_id:
                found(
                    Kind.reordered_event,
                    version,
                    f"stored at position {event.id}, indexed at {link.notification_id}",
                )
            continue
        after = indexed.get(version + 1)
        if after is not None and after.previous_hash == recomputed:
            # the event and the next link agree: the index row's own hash was rewritten
            found(Kind.index_tampered, version, "hash of the index row was edited")
            explained.add(version + 1)
        elif (elsewhere := _indexed_at(stream_id, event, stored, indexed, version)) is not None:
            found(Kind.reordered_event, version, f"holds the event indexed at version {elsewhere}")
        else:
            found(Kind.altered_event, version, "content or topic differs from the indexed hash")
    return sorted(findings, key=lambda f: (f.version, f.kind))


def _indexed_at(
    stream_id: str,
    event: _Stored,
    stored: dict[int, _Stored],
    indexed: dict[int, _Indexed],
    version: int,
) -> int | None:
    """Return the other version whose index hash this row's state (and topic) reproduces."""
    for other, link in indexed.items():
        if other == version:
            continue
        topics = {event.topic} | ({stored[other].topic} if other in stored else set())
        if any(
            event_hash(link.previous_hash, stream_id, other, t, event.state) == link.hash
            for t in topics
        ):
            return other
    return None


def verify_stream(engine: Engine, stream_id: str) -> StreamReport:
    """Verify one stream's events against its index chain."""
    with engine.connect() as connection:
        stored, indexed = _rows(connection, stream_id)
    return StreamReport(stream_id, len(stored), tuple(_check(stream_id, stored, indexed)))


def stream_ids(engine: Engine) -> list[str]:
    """Return every stream id found in the event store or in the index."""
    with engine.connect() as connection:
        ids = {str(u) for u in connection.scalars(select(stored_events.c.originator_id).distinct())}
        ids |= set(connection.scalars(select(event_index.c.originator_id).distinct()))
    return sorted(ids)


def verify_all(engine: Engine) -> Iterator[StreamReport]:
    """Verify every stream, one at a time."""
    for stream_id in stream_ids(engine):
        yield verify_stream(engine, stream_id)


def verify_case(engine: Engine, municipality_id: str, case_id: str) -> StreamReport:
    """Verify a case of `municipality_id`; another municipality's case is not found."""
    try:
        stream_id = str(UUID(case_id))
    except ValueError:
        raise NotFound(f"case {case_id} not found") from None
    # The tenant comes from the index, not from loading the case: a tampered row may not load.
    with engine.connect() as connection:
        tenants = connection.execute(
            select(event_index.c.municipality_id).where(
                event_index.c.originator_id == stream_id,
                event_index.c.event_type == "CaseReferred",
            )
        ).scalars()
        if municipality_id not in set(tenants):
            raise NotFound(f"case {case_id} not found")
    return verify_stream(engine, stream_id)
