"""`kasane projections rebuild`: from zero, after a long random history, with a progress bar."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import delete, func, select, table, update

from service import cli
from service.application.kasane import Kasane
from service.domain.values import Actor, MeetingKind, Role
from service.persistence.tables import (
    case_detail,
    case_list,
    projection_tracking,
)
from service.settings import get_settings
from tests.integration.test_rebuild import _snapshot

COORDINATOR = Actor("demo-city", "demo-coordinator", Role.coordinator)
CITY = Actor("demo-city", "demo-city-welfare", Role.municipality)
PARTICIPANTS = [
    {"agency_id": "demo-coordinator", "role": "coordinator", "attended": True},
    {"agency_id": "demo-city-welfare", "role": "municipality", "attended": True},
]


def _plan(services: list[str]) -> dict[str, Any]:
    roles = [
        {"agency_id": "center", "agency_kind": "community_general_support_center", "role": "r"}
    ]
    return {
        "goals": ["g"],
        "policy": "p",
        "roles": roles,
        "monitoring_dates": ["2026-06-01"],
        "services": services,
    }


def _meeting(app: Kasane, case_id: str, timing: str, plan_version: int, day: int) -> str:
    agenda = [
        {"case_id": case_id, "timing": timing, "plan_version": plan_version, "outcome": "approved"}
    ]
    meeting = app.record_meeting(
        COORDINATOR,
        MeetingKind.layered_support_meeting,
        agenda,
        held_on=f"2026-{day % 12 + 1:02d}-10",
        meeting_format="online",
        participants=PARTICIPANTS,
    )
    return str(meeting.id)


def _random_case(app: Kasane, rnd: random.Random, n: int) -> None:
    """One case down a random stretch of the workflow: stop anywhere, loop through re-plans."""
    household = [{"name": f"member {n}", "relationship": "子"}] if rnd.random() < 0.5 else []
    referral = {"reason": f"needs {n}", "referrer_kind": "self_reliance_consultation"}
    case_id = app.refer_case(COORDINATOR, referral, {"name": f"person {n}"}, household).case_id
    consent = {"person_id": "person", "application_for_use": True, "agency_ids": ["center"]}
    app.give_consent(COORDINATOR, case_id, None, consent)
    if rnd.random() < 0.15:
        return
    app.start_assessment(COORDINATOR, case_id, None)
    app.complete_assessment(COORDINATOR, case_id, None, {"summary": f"assessment {n}"})
    plan_version = 0
    for round_ in range(rnd.randint(1, 3)):
        if round_:
            app.start_replan(COORDINATOR, case_id, None, "changed")
        services = rnd.choice([[], ["outreach"]])
        plan_version = int(
            app.draft_plan(COORDINATOR, case_id, None, _plan(services)).extra["plan_version"]
        )
        if rnd.random() < 0.1:
            return
        timing = "replan" if round_ else "plan"
        meeting_id = _meeting(app, case_id, timing, plan_version, n)
        approved = app.approve_plan(COORDINATOR, case_id, None, meeting_id, replan=bool(round_))
        if approved.state == "awaiting_decision":
            app.decide_support(
                CITY, case_id, None, granted=True, reason="", decided_on="2026-05-12"
            )
        for k in range(rnd.randint(0, 3)):
            record = {"on": f"2026-07-0{k + 1}", "summary": "ok", "contact_made": True}
            app.record_monitoring(COORDINATOR, case_id, None, record)
    if rnd.random() < 0.5:
        meeting_id = _meeting(app, case_id, "closure", plan_version, n + 3)
        closure = {"lead_agency_id": "center", "follow_up": {"needed": False}}
        app.close_case(COORDINATOR, case_id, None, meeting_id, closure)
        if rnd.random() < 0.4:
            app.resume_case(COORDINATOR, case_id, None, reason="again", resumed_on="2026-12-01")


def test_kasane_projections_rebuild_equals_the_live_views_and_shows_progress(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """After ~40 random cases the CLI rebuilds every view row and the tracked position from
    zero (the views are damaged first), drawing `done/total events` on stderr."""
    app = Kasane(database_url)
    rnd = random.Random(20261128)
    for n in range(40):
        _random_case(app, rnd, n)
    live = _snapshot(app)
    with app.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(table("kasane_events"))).scalar_one()
    assert total > 300
    with app.engine.begin() as conn:  # damage the views: the rebuild must not lean on them
        conn.execute(delete(case_list))
        conn.execute(update(case_detail).values(document="{}"))
        conn.execute(update(projection_tracking).values(position=0))

    monkeypatch.setenv("KASANE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        assert cli.main(["projections", "rebuild"]) == 0
    finally:
        get_settings.cache_clear()

    assert _snapshot(app) == live
    out, err = capsys.readouterr()
    assert out.strip() == f"read models rebuilt up to position {live['tracking'][0]}"
    frames = [f for f in err.split("\r") if f.strip()]
    assert len(frames) >= 20  # redrawn as it goes, not only at the end
    assert frames[-1].strip() == f"[{'#' * 30}] {total}/{total} events"
    counts = [int(f.split("] ")[1].split("/")[0]) for f in frames]
    assert counts == sorted(counts)
    assert all(f.split("/")[1].startswith(f"{total} ") for f in frames)
