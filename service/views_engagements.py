"""Queries on the engagement views: outreach and participation support of the cases.

Workflow facts are shown to every reader of the case; the free-text notes are personal data and
are opened only for a reader with a basis for that person (consent or support-council
membership, R-CON-4), each such read written to the access log; otherwise they read as redacted.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine

from service.domain.engagement_values import (
    ENGAGEMENT_EVENT_LABELS,
    NOTE_RECORDS,
    SERVICE_LABELS,
    engagement_id,
    notes_context,
)
from service.domain.errors import NotFound
from service.domain.permissions import authorize
from service.domain.personal import read_basis, redacted
from service.domain.values import Actor
from service.domain.workflow import load_workflow, workflow_version
from service.persistence.crypto import SEALED, KeyStore
from service.persistence.tables import access_log, engagement_detail, engagement_list
from service.request_context import request_id
from service.views import _case_document, _council_members, _page

Json = dict[str, Any]


def list_engagements(
    engine: Engine,
    actor: Actor,
    *,
    service: str | None = None,
    state: str | None = None,
    case_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Json:
    """Return a page of the municipality's engagements (workflow facts only), newest first."""
    authorize(actor.role, "list_engagements")
    where = [engagement_list.c.municipality_id == actor.municipality_id]
    if service:
        where.append(engagement_list.c.service == service)
    if state:
        where.append(engagement_list.c.state == state)
    if case_id:
        where.append(engagement_list.c.case_id == case_id)
    order = (engagement_list.c.updated_at.desc(), engagement_list.c.engagement_id)
    page = _page(engine, select(engagement_list), where, order, limit, offset)
    page["items"] = [_summary(row) for row in page["items"]]
    return page


def _summary(row: Json) -> Json:
    labels = load_workflow(row["service"]).state_labels
    return {
        **{k: v for k, v in row.items() if k != "municipality_id"},
        "pre_consent": bool(row["pre_consent"]),
        "service_label": SERVICE_LABELS[row["service"]],
        "state_label": labels.get(row["state"], row["state"]),
    }


def case_engagements(engine: Engine, actor: Actor, case_id: str, keys: KeyStore) -> list[Json]:
    """Return the case's engagements (404 for a case not in the actor's municipality)."""
    authorize(actor.role, "read_engagement")
    with engine.begin() as conn:
        case_doc = _case_document(conn, actor, case_id)
        documents = conn.execute(
            select(engagement_detail.c.document).where(
                engagement_detail.c.case_id == case_doc["case_id"],
                engagement_detail.c.municipality_id == actor.municipality_id,
            )
        ).scalars()
        docs = sorted((json.loads(d) for d in documents), key=lambda doc: doc["service"])
        return [_readable(conn, actor, case_doc, doc, keys) for doc in docs]


def get_engagement(
    engine: Engine, actor: Actor, case_id: str, service: str, keys: KeyStore
) -> Json:
    """Return one engagement of a case, notes as the actor may read them."""
    authorize(actor.role, "read_engagement")
    with engine.begin() as conn:
        case_doc = _case_document(conn, actor, case_id)
        document = conn.execute(
            select(engagement_detail.c.document).where(
                engagement_detail.c.engagement_id
                == str(engagement_id(case_doc["case_id"], service)),
                engagement_detail.c.municipality_id == actor.municipality_id,
            )
        ).scalar_one_or_none()
        if document is None:
            raise NotFound(f"case {case_id} has no {service} support")
        return _readable(conn, actor, case_doc, json.loads(document), keys)


def _readable(conn: Connection, actor: Actor, case_doc: Json, doc: Json, keys: KeyStore) -> Json:
    """Open or redact the notes of every record of the engagement's document."""
    records = [record for name in NOTE_RECORDS for record in doc.get(name, [])]
    _open_notes(conn, actor, case_doc, records, doc["engagement_id"], doc["service"], keys)
    workflow = workflow_version(doc["workflow_version"], doc["service"])
    return {
        **{k: v for k, v in doc.items() if k != "municipality_id"},
        "state_label": workflow.state_labels.get(doc["state"], doc["state"]),
        "allowed_commands": list(workflow.allowed_commands(doc["state"])),
    }


def _open_notes(
    conn: Connection,
    actor: Actor,
    case_doc: Json,
    records: list[Json],
    engagement: str,
    service: str,
    keys: KeyStore,
) -> None:
    """Replace each record's sealed notes in place: opened for a reader with a basis for the
    person (R-CON-4, logged once per person), redacted otherwise; erased stay erased."""
    sealed = [r for r in records if isinstance(r.get("notes"), dict)]
    person_ids = sorted({str(r["notes"].get("person_id")) for r in sealed})
    if not person_ids:
        return
    bases = read_basis(
        actor, person_ids, case_doc["consents"], _council_members(conn, case_doc["case_id"])
    )
    context = notes_context(engagement)
    for record in sealed:
        person_id = str(record["notes"].get("person_id"))
        basis = bases[person_id]
        if basis.basis is None:
            record["notes"] = redacted(person_id, basis.reason or "no_basis")
        elif SEALED in record["notes"]:
            record["notes"] = keys.unseal(case_doc["case_id"], record["notes"], context, conn)
    for person_id in person_ids:
        basis = bases[person_id]
        if basis.basis is not None:
            conn.execute(
                insert(access_log).values(
                    at=datetime.now(UTC).isoformat(),
                    request_id=request_id.get(),
                    municipality_id=actor.municipality_id,
                    agency_id=actor.agency_id,
                    role=str(actor.role),
                    case_id=case_doc["case_id"],
                    person_id=person_id,
                    fields=json.dumps([f"{service}_notes"]),
                    basis=basis.basis,
                )
            )


def engagement_history(
    engine: Engine, actor: Actor, case_id: str, service: str, events: list[Any], keys: KeyStore
) -> list[Json]:
    """Return the engagement's events, oldest first; notes as the actor may read them."""
    history = []
    records: list[Json] = []
    for event in events:
        payload = {
            k: copy.deepcopy(v)
            for k, v in event.__dict__.items()
            if k not in ("originator_id", "originator_version", "timestamp", "originator_topic")
        }
        kind = type(event).__name__
        history.append(
            {
                "version": event.originator_version,
                "type": kind,
                "label": ENGAGEMENT_EVENT_LABELS.get(kind, kind),
                "recorded_at": event.timestamp.isoformat(),
                "actor": payload.pop("actor", None),
                "payload": payload,
            }
        )
        records += [v for v in payload.values() if isinstance(v, dict) and "notes" in v]
    with engine.begin() as conn:
        case_doc = _case_document(conn, actor, case_id)
        engagement = str(engagement_id(case_doc["case_id"], service))
        _open_notes(conn, actor, case_doc, records, engagement, service, keys)
    return history
