"""Meeting list view and the case ↔ meeting index, rendered from the meeting aggregate."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from service.domain.meeting import COORDINATION, Meeting, agenda_service
from service.persistence.crypto import KeyStore
from service.persistence.sealing import STREAM_SUBJECT, seal_fields
from service.persistence.tables import case_meetings, meeting_list

# The index row of a case the meeting took only for its outreach or participation plan.
_SERVICE_ONLY: dict[str, Any] = {"timing": "none", "plan_version": None, "outcome": "noted"}


def meeting_document(meeting: Meeting) -> dict[str, Any]:
    """Return the meeting as stored in the view."""
    return {
        "meeting_id": str(meeting.id),
        "municipality_id": meeting.municipality_id,
        "kind": meeting.kind,
        "held_on": meeting.held_on,
        "meeting_format": meeting.meeting_format,
        "title": meeting.title,
        "reused_council": meeting.reused_council,
        "host": meeting.host,
        "participants": meeting.participants,
        "person_attended": meeting.person_attended,
        "agenda": meeting.agenda,
        "resource_shortages": meeting.resource_shortages,
        "recorded_at": meeting.created_on.isoformat(),
        "version": meeting.version,
    }


def project_meeting(session: Session, meeting: Meeting, keys: KeyStore) -> None:
    """Write the meeting's row and one index row per case on its agenda; its title and
    shortages sealed with the meeting's own key, each agenda note with its case person's."""
    meeting_id = str(meeting.id)
    session.execute(delete(meeting_list).where(meeting_list.c.meeting_id == meeting_id))
    session.execute(delete(case_meetings).where(case_meetings.c.meeting_id == meeting_id))
    session.execute(
        insert(meeting_list).values(
            meeting_id=meeting_id,
            municipality_id=meeting.municipality_id,
            kind=meeting.kind,
            held_on=meeting.held_on,
            document=json.dumps(
                seal_fields(
                    keys,
                    meeting_id,
                    meeting_document(meeting),
                    None,
                    "read-model",
                    STREAM_SUBJECT,
                    session.connection(),
                ),
                ensure_ascii=False,
            ),
        )
    )
    # One index row per case with the decision on its coordination plan. A case taken only for
    # its outreach or participation plan gets a row without a timing: the row must not read as
    # a decision on the case's own plan (R-MTG-5, R-MTG-7); the service items are in the
    # meeting's document.
    per_case: dict[str, dict[str, Any]] = {}
    for item in meeting.agenda:
        if agenda_service(item) == COORDINATION:
            per_case[item["case_id"]] = item
        else:
            per_case.setdefault(item["case_id"], {**_SERVICE_ONLY, "case_id": item["case_id"]})
    for item in per_case.values():
        session.execute(
            insert(case_meetings).values(
                case_id=item["case_id"],
                meeting_id=meeting_id,
                municipality_id=meeting.municipality_id,
                kind=meeting.kind,
                held_on=meeting.held_on,
                timing=item["timing"],
                plan_version=item.get("plan_version"),
                outcome=item["outcome"],
            )
        )
