"""Golden histories (issue #7, fault test 4): the stored form of events, and what a history
must rebuild to — the read-model rows and the aggregates' states — as canonical JSON.

A history keeps its events in the stored form the mapper writes (topic, and the state JSON of
the transcoder) with the sealed personal fields opened, so the fixture is readable and holds no
key; the replay seals them again with fresh keys and reads them back through the mapper
(sealing, transcoding, upcasting), exactly as the service stores and loads events.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from sqlalchemy import select

from service.application.kasane import Kasane
from service.persistence.crypto import SEALED
from service.persistence.sealing import STREAM_SUBJECT, open_fields
from service.persistence.tables import READ_MODEL_TABLES, projection_tracking

HISTORIES = Path(__file__).parent / "histories"
Json = dict[str, Any]


def plain(value: Any) -> Any:
    """Return `value` as JSON data: ids and times as text, sets sorted, tuples as lists."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(plain(v) for v in value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    return value


def canonical(value: Any) -> str:
    """Return the canonical JSON text of `value` (what 'byte-identical' compares); text columns
    such as a read model's JSON document are compared as the exact strings stored."""
    return json.dumps(plain(value), ensure_ascii=False, sort_keys=True, indent=1) + "\n"


def fixture_text(history: Json) -> str:
    """Return a history's file text: key order kept as stored, since the order of an event's
    state keys flows into the read models' JSON documents."""
    return json.dumps(plain(history), ensure_ascii=False, indent=1) + "\n"


# Events whose personal fields the mapper seals (service/persistence/sealing.py).
MAPPER_SEALED = (":SupportCase.CaseReferred", ":SupportCase.AssessmentCompleted")


def _opened(app: Kasane, topic: str, originator_id: str, version: int, value: Any) -> Any:
    """Open what the mapper sealed: the whole records it seals first, then field by field."""
    kind = topic.rsplit(".", 1)[-1]
    stream = str(value.get("case_id") or originator_id) if isinstance(value, dict) else ""
    if ":ServiceEngagement." in topic and not value.get("case_id"):
        stream = app.mapper._case_of_engagement(originator_id)  # type: ignore[attr-defined]
    value = open_fields(app.keys, stream, value, kind, str(version))
    return _opened_records(app, topic, originator_id, version, value)


def _opened_records(app: Kasane, topic: str, originator_id: str, version: int, value: Any) -> Any:
    if isinstance(value, dict):
        if SEALED in value:
            if not topic.endswith(MAPPER_SEALED):
                # Sealed by a command, not by the mapper (e.g. engagement notes): the replay
                # could not seal it again the same way, so a scenario must leave it out.
                raise ValueError(f"{topic} holds a value sealed outside the mapper")
            return app.keys.unseal(originator_id, value, str(version))
        return {k: _opened_records(app, topic, originator_id, version, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_opened_records(app, topic, originator_id, version, v) for v in value]
    return value


def stored_events(app: Kasane) -> list[Json]:
    """Return every stored event in commit order, sealed fields opened."""
    events: list[Json] = []
    start = 1
    while notifications := app.recorder.select_notifications(start=start, limit=500):
        for n in notifications:
            originator_id = str(n.originator_id)
            state = json.loads(n.state)
            events.append(
                {
                    "originator_id": originator_id,
                    "originator_version": n.originator_version,
                    "topic": n.topic,
                    "state": _opened(app, n.topic, originator_id, n.originator_version, state),
                }
            )
        start = notifications[-1].id + 1
    return events


def aggregate_state(aggregate: Aggregate) -> Json:
    """Return an aggregate's state: its class and attributes (pending events left out)."""
    attributes = {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}
    return {"class": type(aggregate).__qualname__, "attributes": plain(attributes)}


def states(app: Kasane, originator_ids: list[str]) -> Json:
    """Return the state of every aggregate of the history, rebuilt from the store."""
    return {i: aggregate_state(app.repository.get(UUID(i))) for i in originator_ids}


# Read models whose documents hold fields sealed in place (service/persistence/sealing.py).
SEALED_DOCUMENTS = ("case_detail", "engagement_detail", "meeting_list", "community_issue_list")


def read_models(app: Kasane) -> Json:
    """Return every read-model row (sorted) and the tracked position; personal data opened."""
    tables: Json = {}
    with app.engine.connect() as conn:
        for t in READ_MODEL_TABLES:
            rows = [dict(r._mapping) for r in conn.execute(select(t)).all()]
            if t.name == "personal_data":
                for row in rows:
                    sealed = json.loads(row["document"])
                    row["document"] = app.keys.unseal(row["case_id"], sealed, "read-model")
            if t.name in SEALED_DOCUMENTS:
                for row in rows:
                    stream = row.get("case_id") or row.get("meeting_id") or row["issue_id"]
                    opened = open_fields(
                        app.keys, stream, json.loads(row["document"]), None, "read-model"
                    )
                    row["document"] = json.dumps(opened, ensure_ascii=False)
            tables[t.name] = sorted((plain(r) for r in rows), key=canonical)
        tables["tracking"] = list(conn.execute(select(projection_tracking.c.position)).scalars())
    return tables


def replay(app: Kasane, events: list[Json]) -> None:
    """Store a history's events in an empty store through the mapper (sealing personal fields
    with fresh keys), then rebuild the read models from them."""
    stored = []
    for e in events:
        opened = StoredEvent(
            originator_id=UUID(e["originator_id"]),
            originator_version=e["originator_version"],
            topic=e["topic"],
            state=json.dumps(e["state"], ensure_ascii=False).encode(),
        )
        event = app.mapper.to_domain_event(opened)  # upcast, opened fields stay as they are
        persons: list[str] = []
        if e["topic"].endswith(":SupportCase.CaseReferred"):
            members = len(event.household)  # type: ignore[attr-defined]
            persons = ["person", *(f"member-{i}" for i in range(1, members + 1))]
        elif e["topic"].endswith((".MeetingRecorded", ".CommunityIssueRaised")):
            persons = [STREAM_SUBJECT]  # a meeting's or issue's own text key
        if persons:
            with app.recorder.transaction(commit=True) as session:  # type: ignore[attr-defined]
                app.keys.ensure(session, e["originator_id"], persons)
            app.keys.settle()
        stored.append(app.mapper.to_stored_event(event))  # sealed again, as the service stores
    app.recorder.insert_events(stored)
    app.rebuild_read_models()


def history_path(name: str) -> Path:
    """Return the fixture file of the history `name`."""
    return HISTORIES / f"{name}.json"
