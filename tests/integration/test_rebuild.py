"""Read models are projections: rebuilt from zero they equal the ones kept on the write path."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from service.application.kasane import Kasane
from service.domain.values import Actor, MeetingKind, Role
from service.persistence.sealing import open_fields
from service.persistence.tables import READ_MODEL_TABLES, projection_tracking
from tests.golden.history import SEALED_DOCUMENTS

COORDINATOR = Actor("demo-city", "demo-coordinator", Role.coordinator)
MUNICIPALITY = Actor("demo-city", "demo-city-welfare", Role.municipality)
PARTICIPANTS = [
    {"agency_id": "demo-coordinator", "role": "coordinator", "attended": True},
    {"agency_id": "demo-city-welfare", "role": "municipality", "attended": True},
]
PLAN = {
    "goals": ["stabilise finances"],
    "policy": "one team",
    "roles": [
        {"agency_id": "center", "agency_kind": "community_general_support_center", "role": "visits"}
    ],
    "monitoring_dates": ["2026-06-01"],
    "services": [],
}


def _snapshot(app: Kasane) -> dict[str, Any]:
    """Every view row; sealed personal data compared by content (nonces differ per sealing)."""
    with app.engine.connect() as conn:
        tables = {
            t.name: sorted(tuple(r) for r in conn.execute(select(t)).all())
            for t in READ_MODEL_TABLES
        }
        tables["personal_data"] = [
            (case_id, person_id, app.keys.unseal(case_id, json.loads(doc), "read-model"))
            for case_id, person_id, doc in tables["personal_data"]
        ]
        for t in READ_MODEL_TABLES:
            if t.name in SEALED_DOCUMENTS:  # text sealed in place: compared opened
                rows = [dict(r._mapping) for r in conn.execute(select(t)).all()]
                for row in rows:
                    stream = row.get("case_id") or row.get("meeting_id") or row["issue_id"]
                    document = json.loads(row["document"])
                    row["document"] = open_fields(app.keys, stream, document, None, "read-model")
                tables[t.name] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))
        tables["tracking"] = conn.execute(select(projection_tracking.c.position)).scalars().all()
    return tables


def _run_case(app: Kasane, n: int) -> None:
    referral = {"reason": f"compound needs {n}", "referrer_kind": "self_reliance_consultation"}
    case_id = app.refer_case(COORDINATOR, referral, {"name": f"person {n}"}, []).case_id
    consent = {"person_id": "person", "application_for_use": True, "agency_ids": ["center"]}
    app.give_consent(COORDINATOR, case_id, None, consent)
    app.start_assessment(COORDINATOR, case_id, None)
    app.complete_assessment(COORDINATOR, case_id, None, {"summary": "x"})
    app.draft_plan(COORDINATOR, case_id, None, PLAN)
    if n % 3 == 0:
        return
    meeting = app.record_meeting(
        COORDINATOR,
        MeetingKind.layered_support_meeting,
        [{"case_id": case_id, "timing": "plan", "plan_version": 1, "outcome": "approved"}],
        held_on=f"2026-05-{n % 28 + 1:02d}",
        meeting_format="online",
        participants=PARTICIPANTS,
    )
    app.approve_plan(COORDINATOR, case_id, None, str(meeting.id))
    for k in range(n % 4):
        app.record_monitoring(
            COORDINATOR, case_id, None, {"on": f"2026-07-0{k + 1}", "summary": "ok"}
        )
    if n % 2 == 0:
        closure_meeting = app.record_meeting(
            COORDINATOR,
            MeetingKind.layered_support_meeting,
            [{"case_id": case_id, "timing": "closure", "plan_version": 1, "outcome": "approved"}],
            held_on="2026-10-01",
            meeting_format="in_person",
            participants=PARTICIPANTS,
        )
        closure = {"lead_agency_id": "center", "follow_up": {"needed": True, "method": "calls"}}
        app.close_case(COORDINATOR, case_id, None, str(closure_meeting.id), closure)


def test_rebuild_from_zero_equals_the_live_read_models(database_url: str) -> None:
    """`kasane projections rebuild` reproduces every view row and the tracked position."""
    app = Kasane(database_url)
    for n in range(30):
        _run_case(app, n)
    live = _snapshot(app)
    assert len(live["case_list"]) == 30
    assert live["tracking"] and live["tracking"][0] > 0

    position = app.rebuild_read_models()

    assert position == live["tracking"][0]
    assert _snapshot(app) == live
