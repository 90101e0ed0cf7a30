"""Queries on the engagement views: outreach and participation support of the cases.

Workflow facts are shown to every reader of the case; the free-text notes are personal data and
are opened only for a reader with a basis for that person (consent or support-council
membership, R-CON-4), each such read written to the access log; otherwise they read as redacted.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from service.domain.engagement_values import (
    ENGAGEMENT_EVENT_LABELS,
    SERVICE_LABELS,
    engagement_id,
    notes_context,
)
from service.domain.errors import NotFound
from service.domain.permissions import authorize
from service.domain.values import Actor
from service.domain.workflow import load_workflow, workflow_version
from service.persistence.crypto import KeyStore
from service.persistence.tables import engagement_detail, engagement_list
from service.views import (
    Reader,
    _case_document,
    _page,
    before_consent_withheld,
)

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
    """Open or redact the engagement's protected fields for the reader (R-CON-4), and keep its
    records made before consent from readers without a council seat or consent (R-OUT-3)."""
    reader = Reader.of(conn, actor, case_doc, keys)
    shown = reader.disclose(
        before_consent_withheld(doc, reader),
        "read-model",
        notes_context=notes_context(doc["engagement_id"]),
    )
    reader.log(conn)
    workflow = workflow_version(doc["workflow_version"], doc["service"])
    return {
        **{k: v for k, v in shown.items() if k != "municipality_id"},
        "state_label": workflow.state_labels.get(doc["state"], doc["state"]),
        "allowed_commands": list(workflow.allowed_commands(doc["state"])),
    }


def engagement_history(
    engine: Engine, actor: Actor, case_id: str, service: str, events: list[Any], keys: KeyStore
) -> list[Json]:
    """Return the engagement's events, oldest first; protected fields as the actor may read
    them, and records made before consent only to the council's side (R-OUT-3)."""
    history = []
    with engine.begin() as conn:
        case_doc = _case_document(conn, actor, case_id)
        engagement = str(engagement_id(case_doc["case_id"], service))
        reader = Reader.of(conn, actor, case_doc, keys)
        context = notes_context(engagement)
        for event in events:
            entry = reader.entry(event, notes_context=context)
            label = ENGAGEMENT_EVENT_LABELS.get(entry["type"], entry["type"])
            history.append({**entry, "label": label})
        reader.log(conn)
    return history
