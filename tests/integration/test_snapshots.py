"""Snapshots of a case: sealed like its events, equal to a replay, and erasure still works."""

from __future__ import annotations

import json
import threading
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import column, select, table

from service.application.kasane import SNAPSHOT_INTERVAL, Kasane, project_events
from service.domain.errors import VersionConflict
from service.domain.values import Actor, Role
from tests.databases import database_bytes

COORDINATOR = Actor("demo-city", "demo-coordinator", Role.coordinator)
MUNICIPALITY = Actor("demo-city", "demo-city-welfare", Role.municipality)
PLANTED = {
    "name": "山田ハナ植付スナップ",
    "member": "山田タロウ植付スナップ",
    "narrative": "SNAPSHOT-PLANTED-NARRATIVE 二十年ひきこもり",
    "reason": "SNAPSHOT-PLANTED-REASON 8050",  # free text: sealed too (issue 11)
    "note": "SNAPSHOT-PLANTED-NOTE 不在",
}
ATTEMPT = {"kind": "home_visit", "on": "2026-05-01", "reached": False, "note": PLANTED["note"]}


def _case_past_a_snapshot(app: Kasane) -> str:
    """A case with personal data and an assessment, then enough events for a snapshot."""
    referral = {"reason": PLANTED["reason"], "referrer_kind": "community_general_support_center"}
    person = {"name": PLANTED["name"]}
    household = [{"name": PLANTED["member"], "age": 53, "relationship": "長男"}]
    case_id = app.refer_case(COORDINATOR, referral, person, household).case_id
    consent = {"person_id": "person", "application_for_use": True, "agency_ids": []}
    app.give_consent(COORDINATOR, case_id, None, consent)
    app.start_assessment(COORDINATOR, case_id, None)
    assessment = {
        "summary": PLANTED["narrative"],
        "domains": [{"domain": "family", "items": [], "narrative": PLANTED["narrative"]}],
    }
    app.complete_assessment(COORDINATOR, case_id, None, assessment)
    while app.load_case(COORDINATOR, case_id).version < SNAPSHOT_INTERVAL + 3:
        app.record_contact_attempt(COORDINATOR, case_id, None, dict(ATTEMPT))
    return case_id


def _snapshot_rows(app: Kasane, case_id: str) -> list[Any]:
    snapshots = table("kasane_snapshots", column("originator_version"), column("state"))
    with app.engine.connect() as conn:
        return list(conn.execute(select(snapshots.c.originator_version, snapshots.c.state)))


def _replayed(app: Kasane, case_id: str) -> dict[str, Any]:
    """The case folded from its events alone, never from a snapshot."""
    case = project_events(None, app.events.get(UUID(case_id)))
    return dict(vars(case))


def _state(state: dict[str, Any]) -> dict[str, Any]:
    """The aggregate's attributes that make its state (not the events waiting to be saved)."""
    return {k: v for k, v in state.items() if k not in ("_pending_events",)}


def test_a_snapshot_is_taken_sealed_and_loads_like_the_events(database_url: str) -> None:
    """Every SNAPSHOT_INTERVAL events a snapshot is saved; it holds no plaintext personal
    data, and the case loaded from it equals the case replayed from every event."""
    app = Kasane(database_url)
    case_id = _case_past_a_snapshot(app)
    rows = _snapshot_rows(app, case_id)
    assert [r.originator_version for r in rows] == [SNAPSHOT_INTERVAL]
    data = database_bytes(database_url)
    for text in PLANTED.values():
        for form in (text.encode(), json.dumps(text).strip('"').encode()):
            assert form not in data, f"plaintext {text!r} found in the database"
    loaded = Kasane(database_url).load_case(COORDINATOR, case_id)  # a restarted instance
    assert loaded.person["name"] == PLANTED["name"]
    assert loaded.assessments[0]["domains"][0]["narrative"] == PLANTED["narrative"]
    assert loaded.referral["reason"] == PLANTED["reason"]
    assert loaded.contacts[-1]["note"] == PLANTED["note"]
    assert _state(dict(vars(loaded))) == _state(_replayed(app, case_id))


def test_erasure_reads_erased_from_the_snapshot_too(database_url: str) -> None:
    """After the person's key is destroyed, the case loaded through its snapshot reads the
    person as erased (as the events do), keeps the workflow facts and the household member."""
    app = Kasane(database_url)
    case_id = _case_past_a_snapshot(app)
    assert app.erase_person(MUNICIPALITY, case_id, "person", "retention period ended")
    case = Kasane(database_url).load_case(COORDINATOR, case_id)
    assert case.person == {"person_id": "person", "erased": True}
    assert case.assessments[0]["summary"] == {"person_id": "person", "erased": True}
    assert case.household[0]["name"] == PLANTED["member"]
    assert case.state == "planning" and case.version == SNAPSHOT_INTERVAL + 3
    assert _state(dict(vars(case))) == _state(_replayed(app, case_id))
    # the case goes on: the next snapshot is sealed while the person is erased
    for _ in range(SNAPSHOT_INTERVAL):
        app.record_contact_attempt(COORDINATOR, case_id, None, dict(ATTEMPT))
    assert len(_snapshot_rows(app, case_id)) == 2
    again = Kasane(database_url).load_case(COORDINATOR, case_id)
    assert again.person == {"person_id": "person", "erased": True}


def test_a_snapshot_sealed_for_one_case_does_not_open_elsewhere(database_url: str) -> None:
    """A snapshot's sealed fields are bound to their case and version (associated data)."""
    app = Kasane(database_url)
    case_id = _case_past_a_snapshot(app)
    referral = {"reason": "other", "referrer_kind": "community_general_support_center"}
    other = app.refer_case(COORDINATOR, referral, {"name": "y"}, []).case_id
    (row,) = _snapshot_rows(app, case_id)
    sealed = json.loads(bytes(row.state))["state"]["person"]
    assert "__sealed__" in sealed
    context = f"snapshot-{SNAPSHOT_INTERVAL}"
    assert app.keys.unseal(case_id, sealed, context)["name"] == PLANTED["name"]
    with pytest.raises(ValueError, match="does not belong here"):
        app.keys.unseal(other, sealed, context)
    with pytest.raises(ValueError, match="does not belong here"):
        app.keys.unseal(case_id, sealed, "snapshot-1")


def test_concurrent_commands_on_one_case_one_wins(database_url: str) -> None:
    """Eight commands at the same expected version, in concurrent threads (group commit):
    exactly one is saved, the others are refused as conflicts; the stream has no gap."""
    app = Kasane(database_url)
    referral = {"reason": "8050", "referrer_kind": "community_general_support_center"}
    case_id = app.refer_case(COORDINATOR, referral, {"name": "x"}, []).case_id
    consent = {"person_id": "person", "application_for_use": True, "agency_ids": []}
    app.give_consent(COORDINATOR, case_id, None, consent)
    app.start_assessment(COORDINATOR, case_id, None)
    results: list[str] = []
    barrier = threading.Barrier(8)

    def run() -> None:
        barrier.wait()
        try:
            app.record_contact_attempt(COORDINATOR, case_id, 3, dict(ATTEMPT))
            results.append("saved")
        except VersionConflict:
            results.append("conflict")

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 7 + ["saved"]
    versions = [e.originator_version for e in app.events.get(UUID(case_id))]
    assert versions == [1, 2, 3, 4]
