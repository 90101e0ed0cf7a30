"""Queries on the read models (never replaying aggregates), scoped to the actor's municipality."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, insert, select
from sqlalchemy.engine import Connection, Engine

from service.domain.errors import NotFound
from service.domain.permissions import authorize
from service.domain.personal import MAIN_PERSON, read_basis, redacted, split_assessment
from service.domain.values import MEETING_KIND_LABELS, Actor, Role
from service.domain.workflow import state_label, workflow_version
from service.persistence.crypto import KeyStore
from service.persistence.tables import (
    access_log,
    case_detail,
    case_list,
    case_meetings,
    meeting_list,
    personal_data,
)
from service.request_context import request_id

Json = dict[str, Any]


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
    order = (case_list.c.referred_at.desc(), case_list.c.case_id)
    page = _page(engine, select(case_list), where, order, limit, offset)
    page["items"] = [
        {
            **{k: v for k, v in row.items() if k != "municipality_id"},
            "state_label": state_label(row["state"]),
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


def get_case(engine: Engine, actor: Actor, case_id: str, keys: KeyStore) -> dict[str, Any]:
    """Return the case detail with its meetings, the commands allowed now, and the personal
    data the actor may read (the rest redacted with a reason); each read is logged."""
    authorize(actor.role, "read_case")
    with engine.begin() as conn:
        doc = _case_document(conn, actor, case_id)
        meetings = conn.execute(
            select(case_meetings)
            .where(case_meetings.c.case_id == case_id)
            .order_by(case_meetings.c.held_on, case_meetings.c.meeting_id)
        ).mappings()
        meeting_rows = [
            {k: v for k, v in m.items() if k not in ("case_id", "municipality_id")}
            for m in meetings
        ]
        personal = readable_personal_data(conn, actor, doc, keys)
        doc["person"] = personal[MAIN_PERSON]["identity"]
        doc["household"] = [personal[m["person_id"]]["identity"] for m in doc["household"]]
        narratives = personal[MAIN_PERSON].get("assessments")
        if narratives is not None:
            doc["assessments"] = [
                {
                    **facts,
                    "summary": text["summary"],
                    "domains": [
                        {**d, "narrative": n}
                        for d, n in zip(facts["domains"], text["narratives"], strict=False)
                    ],
                }
                for facts, text in zip(doc["assessments"], narratives, strict=False)
            ]
    workflow = workflow_version(doc.get("workflow_version", 1))
    return {
        **doc,
        "state_label": state_label(doc["state"], workflow.version),
        "allowed_commands": list(workflow.allowed_commands(doc["state"])),
        "meetings": meeting_rows,
    }


def _case_document(conn: Connection, actor: Actor, case_id: str) -> dict[str, Any]:
    document = conn.execute(
        select(case_detail.c.document).where(
            case_detail.c.case_id == case_id,
            case_detail.c.municipality_id == actor.municipality_id,
        )
    ).scalar_one_or_none()
    if document is None:
        raise NotFound(f"case {case_id} not found")
    doc: dict[str, Any] = json.loads(document)
    return doc


def readable_personal_data(
    conn: Connection, actor: Actor, doc: dict[str, Any], keys: KeyStore
) -> dict[str, dict[str, Any]]:
    """Return each person's data as the actor may see it, logging every read (R-CON-4)."""
    case_id = doc["case_id"]
    rows = conn.execute(
        select(personal_data.c.person_id, personal_data.c.document).where(
            personal_data.c.case_id == case_id
        )
    ).all()
    stored = {person_id: json.loads(document) for person_id, document in rows}
    bases = read_basis(actor, stored, doc["consents"], _council_members(conn, case_id))
    result: dict[str, dict[str, Any]] = {}
    for person_id, data in stored.items():
        basis = bases[person_id]
        if basis.basis is None:
            reason = basis.reason or "no_basis"
            result[person_id] = {"identity": redacted(person_id, reason), "assessments": None}
            continue
        data = keys.unseal(case_id, data, "read-model", conn)
        if data.get("erased"):
            result[person_id] = {"identity": {"person_id": person_id, "erased": True}}
            result[person_id]["assessments"] = None
            continue
        result[person_id] = {**data, "identity": {"person_id": person_id, **data["identity"]}}
        fields = sorted(data["identity"]) + (
            ["assessment_narrative"] if data.get("assessments") else []
        )
        conn.execute(
            insert(access_log).values(
                at=datetime.now(UTC).isoformat(),
                request_id=request_id.get(),
                municipality_id=actor.municipality_id,
                agency_id=actor.agency_id,
                role=str(actor.role),
                case_id=case_id,
                person_id=person_id,
                fields=json.dumps(fields),
                basis=basis.basis,
            )
        )
    return result


def _council_members(conn: Connection, case_id: str) -> dict[str, list[str]]:
    """Return the support councils that took the case, with the agencies that attended."""
    documents = conn.execute(
        select(meeting_list.c.meeting_id, meeting_list.c.document)
        .join(case_meetings, case_meetings.c.meeting_id == meeting_list.c.meeting_id)
        .where(case_meetings.c.case_id == case_id, case_meetings.c.kind == "support_council")
    ).all()
    return {
        meeting_id: [
            p["agency_id"] for p in json.loads(doc)["participants"] if p.get("attended", True)
        ]
        for meeting_id, doc in documents
    }


def access_log_page(
    engine: Engine, actor: Actor, case_id: str | None, limit: int, offset: int
) -> dict[str, Any]:
    """Return the reads of personal data in the actor's municipality, newest first."""
    authorize(actor.role, "read_access_log")
    where = [access_log.c.municipality_id == actor.municipality_id]
    if case_id:
        where.append(access_log.c.case_id == case_id)
    page = _page(engine, select(access_log), where, (access_log.c.id.desc(),), limit, offset)
    page["items"] = [{**row, "fields": json.loads(row["fields"])} for row in page["items"]]
    return page


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
    page["items"] = [_meeting(json.loads(row["document"]), actor) for row in page["items"]]
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
    return _meeting(json.loads(document), actor)


# Who sees a support council's agenda and participants besides its members (R-CON-2): the
# municipality hosts every council (R-ORG-1) and the auditor reviews the record.
_COUNCIL_OVERSIGHT = frozenset({Role.municipality, Role.auditor})


def _meeting(doc: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Return a meeting as `actor` may see it: a support council's content only to its members.

    A support council discusses cases without the person's consent under a duty of secrecy
    (R-CON-2, R-ORG-2): other agencies see that it was held, not which cases or who attended.
    """
    view = {**doc, "kind_label": MEETING_KIND_LABELS[doc["kind"]]}
    members = {p.get("agency_id") for p in doc.get("participants", [])}
    if (
        doc["kind"] == "support_council"
        and actor.role not in _COUNCIL_OVERSIGHT
        and actor.agency_id not in members
    ):
        view.update(agenda=[], participants=[], resource_shortages=[], restricted=True)
    return view


def case_history(
    engine: Engine, actor: Actor, case_id: str, events: list[Any], keys: KeyStore
) -> list[Json]:
    """Return the case's events, personal fields shown only where the actor may read them."""
    with engine.begin() as conn:
        doc = _case_document(conn, actor, case_id)
        readable = readable_personal_data(conn, actor, doc, keys)
    history = []
    for event in events:
        payload = {
            k: v
            for k, v in event.__dict__.items()
            if k not in ("originator_id", "originator_version", "timestamp", "originator_topic")
        }
        history.append(
            {
                "version": event.originator_version,
                "type": type(event).__name__,
                "recorded_at": event.timestamp.isoformat(),
                "actor": payload.pop("actor", None),
                "payload": _redact_payload(type(event).__name__, payload, readable),
            }
        )
    return history


def _redact_payload(kind: str, payload: Json, readable: dict[str, Json]) -> Json:
    def visible(person_id: str) -> bool:
        identity = readable.get(person_id, {}).get("identity", {"redacted": True})
        return not identity.get("redacted", False)

    if kind == "CaseReferred":
        identity = readable[MAIN_PERSON]["identity"]
        payload["person"] = payload["person"] if visible(MAIN_PERSON) else identity
        payload["household"] = [
            member if visible(f"member-{i}") else readable[f"member-{i}"]["identity"]
            for i, member in enumerate(payload["household"], start=1)
        ]
    elif kind == "AssessmentCompleted" and not visible(MAIN_PERSON):
        facts, _ = split_assessment(payload["assessment"])
        payload["assessment"] = {**facts, "narrative": readable[MAIN_PERSON]["identity"]}
    return payload
