"""Engagement list and detail views, and the engagement's worklist items (R-OUT, R-PAR)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from service.clock import JST
from service.domain.engagement import SERVICE_LABELS, ServiceEngagement
from service.domain.personal import MAIN_PERSON
from service.persistence.crypto import KeyStore
from service.persistence.sealing import seal_fields
from service.persistence.tables import engagement_detail, engagement_list
from service.projections.worklists import (
    FOLLOW_UP,
    MONITORING,
    PLAN_MEETING,
    WorklistItem,
    _day,
    replace_items,
)

Json = dict[str, Any]


def engagement_document(engagement: ServiceEngagement) -> Json:
    """Return the engagement as stored in the view (notes stay sealed; allowed commands on read)."""
    current = engagement.current_plan
    return {
        "engagement_id": str(engagement.id),
        "case_id": engagement.case_id,
        "municipality_id": engagement.municipality_id,
        "service": engagement.service,
        "service_label": SERVICE_LABELS[engagement.service],
        "state": engagement.state,
        "version": engagement.version,
        "workflow_version": engagement.workflow_version,
        "started_at": engagement.created_on.isoformat(),
        "updated_at": engagement.modified_on.isoformat(),
        "start": engagement.start,
        "activities": engagement.activities,
        "attempts_since_contact": engagement.attempts_since_contact,
        "intakes": engagement.intakes,
        "assessments": engagement.assessments,
        "plans": engagement.plans,
        "current_plan": current,
        "matches": engagement.matches,
        "host_id": engagement.host_id,
        "settling_in": engagement.settling_in,
        "follow_ups": engagement.follow_ups,
        "connection_stable": engagement.connection_stable,
        "payments": engagement.payments,
        "closures": engagement.closures,
        "suspensions": engagement.suspensions,
        "resumptions": engagement.resumptions,
        "periodic_contacts": engagement.periodic_contacts,
        "next_contact_due": engagement.next_contact_due,
        "meeting_ids": engagement.meeting_ids,
    }


def project_engagement(session: Session, engagement: ServiceEngagement, keys: KeyStore) -> None:
    """Write the engagement's rows in the list and detail views (delete and insert); its
    protected fields sealed in place with the key of the case person each concerns."""
    doc = engagement_document(engagement)
    key = doc["engagement_id"]
    session.execute(delete(engagement_list).where(engagement_list.c.engagement_id == key))
    session.execute(delete(engagement_detail).where(engagement_detail.c.engagement_id == key))
    session.execute(
        insert(engagement_list).values(
            engagement_id=key,
            case_id=engagement.case_id,
            municipality_id=engagement.municipality_id,
            service=engagement.service,
            state=engagement.state,
            basis=engagement.start["basis"],
            pre_consent=int(bool(engagement.start["pre_consent"])),
            started_on=engagement.start["started_on"],
            agency_id=engagement.start.get("agency_id"),
            host_id=engagement.host_id,
            current_plan_version=(doc["current_plan"] or {}).get("version"),
            next_contact_due=engagement.next_contact_due,
            version=engagement.version,
            updated_at=doc["updated_at"],
        )
    )
    session.execute(
        insert(engagement_detail).values(
            engagement_id=key,
            case_id=engagement.case_id,
            municipality_id=engagement.municipality_id,
            document=json.dumps(
                seal_fields(
                    keys,
                    engagement.case_id,
                    doc,
                    None,
                    "read-model",
                    MAIN_PERSON,
                    session.connection(),
                ),
                ensure_ascii=False,
            ),
        )
    )
    replace_items(session, key, engagement_items(engagement))


def next_monitoring_date(engagement: ServiceEngagement) -> date | None:
    """The earliest monitoring date of the plan in effect after the latest recorded work.

    Activities, settling-in support and follow-ups gather the person's situation; a plan date on
    or before the latest of them counts as met (as the case's monitoring records do).
    """
    plan = engagement.current_plan
    if plan is None:
        return None
    records = [*engagement.activities, *engagement.settling_in, *engagement.follow_ups]
    recorded = [d for d in (_day(r.get("on")) for r in records) if d is not None]
    latest = max(recorded) if recorded else None
    dates = sorted(d for d in (_day(v) for v in plan.get("monitoring_dates", [])) if d)
    return next((d for d in dates if latest is None or d > latest), None)


def engagement_items(engagement: ServiceEngagement) -> list[WorklistItem]:
    """Return what the engagement has due: monitoring, and periodic contact after closure."""
    label = SERVICE_LABELS[engagement.service]
    common: dict[str, Any] = {
        "municipality_id": engagement.municipality_id,
        "case_id": engagement.case_id,
        "agency_id": engagement.start.get("agency_id"),
        "role": f"{engagement.service}_provider",
    }
    items = []
    monitoring = next_monitoring_date(engagement)
    plan = engagement.current_plan or {}
    if monitoring is not None and engagement.state in _SUPPORT_STATES:
        items.append(
            WorklistItem(
                kind=MONITORING,
                due_on=monitoring,
                label=f"{label}のモニタリング（プラン第{plan.get('version')}版）",
                **common,
            )
        )
    draft = engagement.plan_in_draft
    if draft is not None and engagement.state in _DRAFTING_STATES:
        # The coordinators put the service's plan on a meeting's agenda (R-OUT-4, R-PAR-5).
        drafted = _day(draft.get("drafted_on")) or engagement.modified_on.astimezone(JST).date()
        items.append(
            WorklistItem(
                **{**common, "agency_id": None, "role": "coordinator"},
                kind=PLAN_MEETING,
                due_on=drafted,
                label=f"{label}のプラン第{draft['version']}版案の重層的支援会議待ち",
            )
        )
    contact_due = _day(engagement.next_contact_due)
    if engagement.state == "closed" and contact_due is not None:
        items.append(
            WorklistItem(
                kind=FOLLOW_UP,
                due_on=contact_due,
                label=f"{label}の終結後の定期的な連絡（R-PAR-4）",
                **common,
            )
        )
    return items


_SUPPORT_STATES = ("in_support", "matching", "settling_in")
# The states in which a drafted plan of the service waits for its meeting (A or B).
_DRAFTING_STATES = ("reaching_out", "planning", "replanning")
