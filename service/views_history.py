"""Audit views: a case's history with feed positions, the case as of a past point, its timeline.

The point-in-time view replays the case's events (the read model only holds the present);
who may read personal data is decided by the consents in force now, the values are the past ones.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import select

from service.domain.case import SupportCase
from service.domain.errors import DomainError, NotFound
from service.domain.labels import EVENT_LABELS
from service.domain.permissions import authorize
from service.domain.values import Actor
from service.persistence.tables import event_index, meeting_list
from service.projections.cases import detail_document
from service.views import (
    PERSONAL_RECORDS,
    Reader,
    before_consent_withheld,
    case_history,
    get_case,
)

if TYPE_CHECKING:
    from service.application.kasane import Kasane

Json = dict[str, Any]


def history(app: Kasane, actor: Actor, case_id: str) -> list[Json]:
    """Return every event of the case with its feed position and Japanese label, oldest first;
    personal fields as the actor may see them (the redaction of `views.case_history`)."""
    events = app.case_events(actor, case_id)
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(event_index.c.originator_version, event_index.c.notification_id).where(
                event_index.c.originator_id == case_id
            )
        ).tuples()
        positions = {version: position for version, position in rows}
    return [
        {
            **entry,
            "position": positions.get(entry["version"]),
            "label": EVENT_LABELS.get(entry["type"], entry["type"]),
        }
        for entry in case_history(app.engine, actor, case_id, events, app.keys)
    ]


def resolve_version(
    events: list[Any], case_id: str, *, version: int | None, at: datetime | None
) -> int:
    """Return the case version at `version` or at time `at` (the last event recorded by then)."""
    if (version is None) == (at is None):
        raise DomainError("give exactly one of as_of and as_of_version", code="as_of_ambiguous")
    latest = events[-1].originator_version
    if at is not None:
        if at.tzinfo is None:
            raise DomainError(
                "as_of needs a UTC offset, e.g. 2026-05-10T09:00:00+09:00 (RFC 3339)",
                code="as_of_offset_required",
            )
        before = [e.originator_version for e in events if e.timestamp <= at]
        if not before:
            raise NotFound(f"case {case_id} was not yet referred at {at.isoformat()}")
        return int(before[-1])
    assert version is not None
    if version > latest:
        raise NotFound(
            f"case {case_id} has no version {version}; its latest is {latest}",
            code="version_not_found",
        )
    return version


def case_as_of(
    app: Kasane, actor: Actor, case_id: str, *, version: int | None, at: datetime | None
) -> Json:
    """Return the case detail as it stood at a past version or time, rebuilt from its events."""
    authorize(actor.role, "read_case")
    current = app.load_case(actor, case_id)
    events: list[Any] = list(app.events.get(current.id))
    n = resolve_version(events, case_id, version=version, at=at)
    past: SupportCase = app.repository.get(current.id, version=n)
    point = at or past.modified_on
    now = get_case(app.engine, actor, case_id, app.keys)  # the consent in force now decides
    with app.engine.begin() as conn:
        reader = Reader.of(conn, actor, detail_document(current), app.keys)
        past_doc = before_consent_withheld(detail_document(past), reader)
        doc = reader.disclose(past_doc, "as-of", skip=PERSONAL_RECORDS)
        reader.log(conn)
    _past_personal_data(doc, past, now)
    workflow = past.workflow
    return {
        **doc,
        "state_label": workflow.state_labels[past.state],
        "allowed_commands": list(workflow.allowed_commands(past.state)),
        "meetings": _meetings_by(app, now["meetings"], point),
        "as_of": {
            "version": past.version,
            "recorded_at": past.modified_on.isoformat(),
            "requested": at.isoformat() if at else None,
            "latest_version": current.version,
        },
    }


def _shown(identity: Json) -> bool:
    return not identity.get("redacted") and not identity.get("erased")


def _past_personal_data(doc: Json, past: SupportCase, now: Json) -> None:
    """Show a person's past data where the present view shows that person's data at all."""
    doc["person"] = past.person if _shown(now["person"]) else now["person"]
    present = {m["person_id"]: m for m in now["household"]}
    doc["household"] = [
        m if _shown(present[m["person_id"]]) else present[m["person_id"]] for m in past.household
    ]
    if _shown(now["person"]):
        doc["assessments"] = past.assessments  # narrative included, as the mapper unsealed it


def _meetings_by(app: Kasane, meetings: list[Json], point: datetime) -> list[Json]:
    """Keep the meetings of the case already recorded at `point` (a meeting is its own stream)."""
    ids = [m["meeting_id"] for m in meetings]
    with app.engine.connect() as conn:
        recorded = {
            meeting_id: datetime.fromisoformat(json.loads(document)["recorded_at"])
            for meeting_id, document in conn.execute(
                select(meeting_list.c.meeting_id, meeting_list.c.document).where(
                    meeting_list.c.meeting_id.in_(ids)
                )
            ).tuples()
        }
    return [m for m in meetings if recorded[m["meeting_id"]] <= point]


@dataclass(frozen=True)
class TimelineRow:
    """One event of a case as workflow facts only: never a person's data."""

    version: int
    recorded_at: str
    type: str
    label: str
    role: str
    agency_id: str
    state: str


def timeline(
    app: Kasane, case_id: str, *, version: int | None = None, at: datetime | None = None
) -> list[TimelineRow]:
    """Replay the case's events up to a version or time (default: all) for an operator."""
    events: list[Any] = []
    with contextlib.suppress(ValueError):  # not a UUID: no such case
        events = list(app.events.get(UUID(case_id)))
    if not events or not isinstance(events[0], SupportCase.CaseReferred):
        raise NotFound(f"case {case_id} not found")
    last = events[-1].originator_version
    if version is not None or at is not None:
        last = resolve_version(events, case_id, version=version, at=at)
    rows: list[TimelineRow] = []
    aggregate: Any = None
    for event in events:
        if event.originator_version > last:
            break
        aggregate = event.mutate(aggregate)
        kind = type(event).__name__
        actor = getattr(event, "actor", None) or {}
        rows.append(
            TimelineRow(
                version=event.originator_version,
                recorded_at=event.timestamp.isoformat(timespec="seconds"),
                type=kind,
                label=EVENT_LABELS.get(kind, kind),
                role=str(actor.get("role", "")),
                agency_id=str(actor.get("agency_id", "")),
                state=aggregate.state,
            )
        )
    return rows
