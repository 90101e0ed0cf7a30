"""The ordered event feed of one municipality: CloudEvents 1.0 envelopes in commit order.

Positions are the event store's notification ids. The event index is written in the command's
transaction and ids are committed in order (SQLite has one writer; on PostgreSQL the recorder
locks the table per insert), so a reader resuming after position N never skips an event of its
municipality and never sees one twice. The feed carries workflow facts only (ids, types,
states, dates, codes): integrators read anything more through `GET /cases/{id}`, where consent
and council membership govern it.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent
from sqlalchemy import Integer, LargeBinary, Text, column, select, table
from sqlalchemy.engine import Engine

from service.domain.case import SupportCase
from service.domain.classification import made_before_consent, workflow_facts
from service.domain.community_issue import CommunityIssue
from service.domain.engagement import ServiceEngagement
from service.domain.host import Host
from service.domain.meeting import Meeting
from service.domain.permissions import authorize
from service.domain.values import Actor
from service.persistence.schema import EVENTS_TABLE
from service.persistence.tables import event_index

Json = dict[str, Any]
TYPE_PREFIX = "jp.kasane."
SEQUENCE_DIGITS = 20  # a BIGINT has at most 19: zero-padded, sequences also sort as strings
# What a support council's record keeps from everyone but its members and the municipality.
COUNCIL_SECRETS = ("participants", "agenda", "reused_council")
DEFAULT_PAGE_MAX_BYTES = 1_048_576
_BATCH = 20  # rows fetched at a time: a page stops early once its byte budget is spent
_NOT_PAYLOAD = ("originator_id", "originator_version", "timestamp", "originator_topic")

# Only the columns the feed reads; the table itself belongs to eventsourcing-sqlalchemy.
_events = table(
    EVENTS_TABLE,
    column("id", Integer),
    column("topic", Text),
    column("state", LargeBinary),
)
_SOURCES = (
    (SupportCase.Event, "cases"),
    (Meeting.Event, "meetings"),
    (ServiceEngagement.Event, "engagements"),
    (Host.Event, "hosts"),
    (CommunityIssue.Event, "community-issues"),
)


def feed_page(
    engine: Engine,
    mapper: Mapper[UUID],
    actor: Actor,
    after: int,
    limit: int,
    max_bytes: int = DEFAULT_PAGE_MAX_BYTES,
) -> Json:
    """Return the actor's municipality's events after position `after`, oldest first.

    At most `limit` events, and no more than `max_bytes` of them as JSON, but always at least
    one (an event larger than the budget comes alone): `next_after` is the position of the last
    event returned, so the next page starts right after it.
    """
    authorize(actor.role, "read_feed")
    query = (
        select(
            event_index.c.notification_id,
            event_index.c.originator_id,
            event_index.c.originator_version,
            _events.c.topic,
            _events.c.state,
        )
        .join(_events, _events.c.id == event_index.c.notification_id)
        .where(
            event_index.c.municipality_id == actor.municipality_id,
            event_index.c.notification_id > after,
        )
        .order_by(event_index.c.notification_id)
        .limit(limit)
    )
    items: list[Json] = []
    spent = 0
    last = after
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=_BATCH).execute(query):
            item = cloud_event(
                actor.municipality_id,
                row.notification_id,
                # The plain decoding, not the app's sealing mapper: the feed drops the sealed
                # personal fields anyway, so it never needs (or logs a use of) a person's key.
                Mapper.to_domain_event(
                    mapper,
                    StoredEvent(
                        originator_id=UUID(row.originator_id),
                        originator_version=row.originator_version,
                        topic=row.topic,
                        state=bytes(row.state),
                    ),
                ),
            )
            size = json_size(item)
            if items and spent + size > max_bytes:
                break
            items.append(item)
            spent += size
            last = row.notification_id
    return {"items": items, "next_after": last}


def json_size(document: Json) -> int:
    """Return the bytes of `document` as the response writes it (compact UTF-8 JSON)."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str)
    return len(text.encode("utf-8", "surrogatepass"))


def cloud_event(municipality_id: str, position: int, event: Any) -> Json:
    """Return one stored event as a CloudEvents 1.0 envelope without personal data."""
    kind = type(event).__name__
    payload = {k: v for k, v in vars(event).items() if k not in _NOT_PAYLOAD}
    source = next((name for cls, name in _SOURCES if isinstance(event, cls)), "aggregates")
    return {
        "specversion": "1.0",
        "id": f"{event.originator_id}:{event.originator_version}",
        "source": f"/municipalities/{municipality_id}/{source}",
        "type": TYPE_PREFIX + kind,
        "subject": str(event.originator_id),
        "time": event.timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "sequence": str(position).zfill(SEQUENCE_DIGITS),
        "data": without_personal_data(kind, payload),
    }


def without_personal_data(kind: str, payload: Json) -> Json:
    """Return the workflow facts of an event's payload: ids, types, states, dates and codes.

    Every field the classification (service/domain/classification.py) does not class as a
    workflow fact is left out — identity, free text, the council's secrets, and any field not
    declared at all. A support council's participants and agenda are its secret (R-CON-2,
    R-ORG-2): the feed says that a council was held, not who sat on it or which cases it took.
    """
    facts: Json = workflow_facts(payload, kind)
    if made_before_consent(payload):
        # made on the council track before consent (R-OUT-3): that it happened, nothing more
        return {k: v for k, v in facts.items() if k in ("actor", "state", "case_id")}
    if kind == "MeetingRecorded" and payload.get("kind") == "support_council":
        facts = {k: v for k, v in facts.items() if k not in COUNCIL_SECRETS}
    return facts
