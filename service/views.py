"""Queries on the read models (never replaying aggregates), scoped to the actor's municipality."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Engine

from service.domain.errors import NotFound
from service.domain.permissions import authorize
from service.domain.values import MEETING_KIND_LABELS, Actor
from service.domain.workflow import support_case_workflow
from service.persistence.tables import case_detail, case_list, case_meetings, meeting_list


def list_cases(
    engine: Engine,
    actor: Actor,
    *,
    state: str | None = None,
    referrer_kind: str | None = None,
    lead_agency_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Return a page of the case list, newest first."""
    authorize(actor.role, "list_cases")
    where = [case_list.c.municipality_id == actor.municipality_id]
    if state:
        where.append(case_list.c.state == state)
    if referrer_kind:
        where.append(case_list.c.referrer_kind == referrer_kind)
    if lead_agency_id:
        where.append(case_list.c.lead_agency_id == lead_agency_id)
    labels = support_case_workflow().state_labels
    order = (case_list.c.referred_at.desc(), case_list.c.case_id)
    page = _page(engine, select(case_list), where, order, limit, offset)
    page["items"] = [
        {
            **{k: v for k, v in row.items() if k != "municipality_id"},
            "state_label": labels[row["state"]],
        }
        for row in page["items"]
    ]
    return page


def _page(
    engine: Engine,
    query: Select[Any],
    where: list[Any],
    order: tuple[Any, ...],
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """Run a filtered, ordered, paginated query; return the rows with the total count."""
    with engine.connect() as conn:
        total = conn.execute(
            select(func.count()).select_from(query.where(*where).subquery())
        ).scalar_one()
        rows = conn.execute(query.where(*where).order_by(*order).limit(limit).offset(offset))
        items = [dict(row) for row in rows.mappings()]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def get_case(engine: Engine, actor: Actor, case_id: str) -> dict[str, Any]:
    """Return the case detail with its meetings and the commands allowed now."""
    authorize(actor.role, "read_case")
    with engine.connect() as conn:
        document = conn.execute(
            select(case_detail.c.document).where(
                case_detail.c.case_id == case_id,
                case_detail.c.municipality_id == actor.municipality_id,
            )
        ).scalar_one_or_none()
        if document is None:
            raise NotFound(f"case {case_id} not found")
        meetings = conn.execute(
            select(case_meetings)
            .where(case_meetings.c.case_id == case_id)
            .order_by(case_meetings.c.held_on, case_meetings.c.meeting_id)
        ).mappings()
        meeting_rows = [
            {k: v for k, v in m.items() if k not in ("case_id", "municipality_id")}
            for m in meetings
        ]
    doc: dict[str, Any] = json.loads(document)
    workflow = support_case_workflow()
    return {
        **doc,
        "state_label": workflow.state_labels[doc["state"]],
        "allowed_commands": list(workflow.allowed_commands(doc["state"])),
        "meetings": meeting_rows,
    }


def list_meetings(
    engine: Engine,
    actor: Actor,
    *,
    kind: str | None = None,
    held_from: str | None = None,
    held_to: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Return a page of the meeting list, latest first."""
    authorize(actor.role, "list_meetings")
    where = [meeting_list.c.municipality_id == actor.municipality_id]
    if kind:
        where.append(meeting_list.c.kind == kind)
    if held_from:
        where.append(meeting_list.c.held_on >= held_from)
    if held_to:
        where.append(meeting_list.c.held_on <= held_to)
    order = (meeting_list.c.held_on.desc(), meeting_list.c.meeting_id)
    page = _page(engine, select(meeting_list.c.document), where, order, limit, offset)
    page["items"] = [_meeting(json.loads(row["document"])) for row in page["items"]]
    return page


def get_meeting(engine: Engine, actor: Actor, meeting_id: str) -> dict[str, Any]:
    """Return one meeting of the actor's municipality."""
    authorize(actor.role, "read_meeting")
    with engine.connect() as conn:
        document = conn.execute(
            select(meeting_list.c.document).where(
                meeting_list.c.meeting_id == meeting_id,
                meeting_list.c.municipality_id == actor.municipality_id,
            )
        ).scalar_one_or_none()
    if document is None:
        raise NotFound(f"meeting {meeting_id} not found")
    return _meeting(json.loads(document))


def _meeting(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "kind_label": MEETING_KIND_LABELS[doc["kind"]]}
