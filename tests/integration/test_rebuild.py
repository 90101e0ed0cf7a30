"""Read models are projections: rebuilt from zero they equal the ones kept on the write path."""

from __future__ import annotations

from typing import Any

from service.application.kasane import Kasane
from service.domain.values import Actor, MeetingKind, Role
from tests.golden.history import read_models

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
    """Every view row; sealed data compared opened (nonces differ per sealing)."""
    return read_models(app)


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
