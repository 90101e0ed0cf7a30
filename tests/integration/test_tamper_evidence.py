"""Tamper evidence: edits made directly in the database are found by recomputing the hash chain."""

from __future__ import annotations

import json
from collections.abc import Callable
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

from service import cli
from service.application.kasane import Kasane
from service.domain.errors import NotFound
from service.domain.values import Actor, MeetingKind, Role
from service.integration.index import GENESIS, event_hash
from service.integration.verify import Kind, stored_events, verify_all, verify_case
from service.persistence.tables import event_index

CITY = "demo-city"
COORDINATOR = Actor(CITY, "demo-coordinator", Role.coordinator)
PLAN = {
    "goals": ["stabilise finances"],
    "policy": "one team",
    "roles": [
        {"agency_id": "center", "agency_kind": "community_general_support_center", "role": "visits"}
    ],
    "monitoring_dates": ["2026-06-01"],
    "services": [],
}


def _case(app: Kasane, name: str = "山田ハナ") -> str:
    """Refer, consent, assess and plan: a case of five events (versions 1..5)."""
    referral = {"reason": "8050", "referrer_kind": "self_reliance_consultation"}
    case_id = app.refer_case(COORDINATOR, referral, {"name": name}, []).case_id
    consent = {"person_id": "person", "application_for_use": True, "agency_ids": ["center"]}
    app.give_consent(COORDINATOR, case_id, None, consent)
    app.start_assessment(COORDINATOR, case_id, None)
    app.complete_assessment(COORDINATOR, case_id, None, {"summary": "世帯全体の課題"})
    assert app.draft_plan(COORDINATOR, case_id, None, PLAN).version == 5
    return case_id


@pytest.fixture
def app(database_url: str) -> Kasane:
    """Return the application on a migrated SQLite file."""
    return Kasane(database_url)


@pytest.fixture
def cases(app: Kasane) -> tuple[str, str]:
    """Return two cases of demo-city: the one to tamper with, and a bystander."""
    return _case(app), _case(app, "鈴木ケン")


def _row(engine: Engine, case_id: str, version: int) -> tuple[int, str, bytes]:
    e = stored_events.c
    with engine.connect() as conn:
        row = conn.execute(
            select(e.id, e.topic, e.state).where(
                e.originator_id == UUID(case_id), e.originator_version == version
            )
        ).one()
    return row.id, row.topic, bytes(row.state)


def _set_state(engine: Engine, case_id: str, version: int, state: bytes) -> None:
    e = stored_events.c
    with engine.begin() as conn:
        conn.execute(
            update(stored_events)
            .where(e.originator_id == UUID(case_id), e.originator_version == version)
            .values(state=state)
        )


def _found(app: Kasane, case_id: str) -> list[tuple[str, int]]:
    report = verify_case(app.engine, CITY, case_id)
    return [(f.kind, f.version) for f in report.findings]


def _bystander_ok(app: Kasane, case_id: str) -> None:
    report = verify_case(app.engine, CITY, case_id)
    assert report.ok and report.events == 5


def test_untouched_cases_and_meetings_verify_ok(app: Kasane, cases: tuple[str, str]) -> None:
    """Every stream written by the application verifies, meetings included."""
    app.record_meeting(
        COORDINATOR,
        MeetingKind.layered_support_meeting,
        [{"case_id": cases[0], "timing": "plan", "plan_version": 1, "outcome": "approved"}],
        held_on="2026-05-10",
        meeting_format="online",
        participants=[
            {"agency_id": "demo-coordinator", "role": "coordinator", "attended": True},
            {"agency_id": "demo-city-welfare", "role": "municipality", "attended": True},
        ],
    )
    report = verify_case(app.engine, CITY, cases[0])
    assert (report.stream_id, report.events, report.ok, report.findings) == (cases[0], 5, True, ())
    reports = list(verify_all(app.engine))
    assert len(reports) == 3
    assert all(r.ok for r in reports)


def test_an_altered_event_is_found_at_its_version(app: Kasane, cases: tuple[str, str]) -> None:
    """Editing the stored state of version 3 (even into bytes that no longer decode)."""
    case_id, bystander = cases
    _, _, state = _row(app.engine, case_id, 3)
    _set_state(app.engine, case_id, 3, state.replace(b"demo-coordinator", b"demo-c00rdinator"))
    assert _found(app, case_id) == [(Kind.altered_event, 3)]
    _set_state(app.engine, case_id, 4, b"\x00 not json")
    assert _found(app, case_id) == [(Kind.altered_event, 3), (Kind.altered_event, 4)]
    _bystander_ok(app, bystander)


def test_an_altered_topic_is_found(app: Kasane, cases: tuple[str, str]) -> None:
    """The topic is hashed too: relabelling an event is an alteration."""
    case_id, _ = cases
    e = stored_events.c
    with app.engine.begin() as conn:
        conn.execute(
            update(stored_events)
            .where(e.originator_id == UUID(case_id), e.originator_version == 2)
            .values(topic=_row(app.engine, case_id, 3)[1])
        )
    assert _found(app, case_id) == [(Kind.altered_event, 2)]


def test_a_removed_middle_event_is_found(app: Kasane, cases: tuple[str, str]) -> None:
    """Deleting version 3 from the store leaves its index row without an event."""
    case_id, bystander = cases
    e = stored_events.c
    with app.engine.begin() as conn:
        conn.execute(
            delete(stored_events).where(e.originator_id == UUID(case_id), e.originator_version == 3)
        )
    report = verify_case(app.engine, CITY, case_id)
    assert report.events == 4
    assert [(f.kind, f.version) for f in report.findings] == [(Kind.removed_event, 3)]
    _bystander_ok(app, bystander)


def test_an_event_removed_with_its_index_row_is_a_version_gap(
    app: Kasane, cases: tuple[str, str]
) -> None:
    """Deleting version 3 from the store and from the index: the gap is the finding."""
    case_id, _ = cases
    e, i = stored_events.c, event_index.c
    with app.engine.begin() as conn:
        conn.execute(
            delete(stored_events).where(e.originator_id == UUID(case_id), e.originator_version == 3)
        )
        conn.execute(
            delete(event_index).where(i.originator_id == case_id, i.originator_version == 3)
        )
    assert _found(app, case_id) == [(Kind.removed_event, 3)]


def test_a_forged_next_event_is_found(app: Kasane, cases: tuple[str, str]) -> None:
    """A row inserted at version 6 (a copy of version 5's content) has no index row."""
    case_id, bystander = cases
    _, topic, state = _row(app.engine, case_id, 5)
    with app.engine.begin() as conn:
        conn.execute(
            insert(stored_events).values(
                originator_id=UUID(case_id), originator_version=6, topic=topic, state=state
            )
        )
    report = verify_case(app.engine, CITY, case_id)
    assert report.events == 6
    assert [(f.kind, f.version) for f in report.findings] == [(Kind.inserted_event, 6)]
    _bystander_ok(app, bystander)


def test_a_forged_event_with_a_forged_index_row_breaks_the_chain(
    app: Kasane, cases: tuple[str, str]
) -> None:
    """Version 6 with an index row of its own, whose link does not reach version 5."""
    case_id, _ = cases
    _, topic, state = _row(app.engine, case_id, 5)
    with app.engine.begin() as conn:
        forged = conn.execute(
            insert(stored_events).values(
                originator_id=UUID(case_id), originator_version=6, topic=topic, state=state
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(event_index).values(
                notification_id=forged,
                originator_id=case_id,
                originator_version=6,
                municipality_id=CITY,
                event_type="PlanDrafted",
                hash=event_hash(GENESIS, case_id, 6, topic, state),
                previous_hash=GENESIS,
            )
        )
    assert _found(app, case_id) == [(Kind.broken_chain, 6)]


def test_an_event_deleted_and_stored_again_is_found_as_moved(
    app: Kasane, cases: tuple[str, str]
) -> None:
    """The same content at the same version, but later in the commit order than indexed."""
    case_id, _ = cases
    _, topic, state = _row(app.engine, case_id, 2)
    e = stored_events.c
    with app.engine.begin() as conn:
        conn.execute(
            delete(stored_events).where(e.originator_id == UUID(case_id), e.originator_version == 2)
        )
        conn.execute(
            insert(stored_events).values(
                originator_id=UUID(case_id), originator_version=2, topic=topic, state=state
            )
        )
    assert _found(app, case_id) == [(Kind.reordered_event, 2)]


def test_swapped_states_are_found_as_reordered(app: Kasane, cases: tuple[str, str]) -> None:
    """Swapping the states of versions 2 and 4: each holds what was indexed at the other."""
    case_id, bystander = cases
    second, fourth = _row(app.engine, case_id, 2)[2], _row(app.engine, case_id, 4)[2]
    _set_state(app.engine, case_id, 2, fourth)
    _set_state(app.engine, case_id, 4, second)
    assert _found(app, case_id) == [(Kind.reordered_event, 2), (Kind.reordered_event, 4)]
    _bystander_ok(app, bystander)


def test_swapped_versions_are_found_as_reordered(app: Kasane, cases: tuple[str, str]) -> None:
    """Renumbering rows 2 and 3 (the whole rows change places in the stream)."""
    case_id, _ = cases
    e = stored_events.c

    def renumber(conn: Connection, old: int, new: int) -> None:
        conn.execute(
            update(stored_events)
            .where(e.originator_id == UUID(case_id), e.originator_version == old)
            .values(originator_version=new)
        )

    with app.engine.begin() as conn:
        renumber(conn, 2, 99)
        renumber(conn, 3, 2)
        renumber(conn, 99, 3)
    assert _found(app, case_id) == [(Kind.reordered_event, 2), (Kind.reordered_event, 3)]


def test_an_edited_index_hash_is_found(app: Kasane, cases: tuple[str, str]) -> None:
    """Rewriting the hash of version 2, then the previous_hash of version 4, in the index."""
    case_id, bystander = cases
    i = event_index.c
    with app.engine.begin() as conn:
        conn.execute(
            update(event_index)
            .where(i.originator_id == case_id, i.originator_version == 2)
            .values(hash="f" * 64)
        )
    assert _found(app, case_id) == [(Kind.index_tampered, 2)]
    with app.engine.begin() as conn:
        conn.execute(
            update(event_index)
            .where(i.originator_id == case_id, i.originator_version == 4)
            .values(previous_hash="e" * 64)
        )
    assert _found(app, case_id) == [(Kind.index_tampered, 2), (Kind.index_tampered, 4)]
    _bystander_ok(app, bystander)


def test_a_case_of_another_municipality_or_a_meeting_is_not_found(
    app: Kasane, cases: tuple[str, str]
) -> None:
    """The tenant check reads the index, so it holds even when the case no longer loads."""
    case_id, _ = cases
    _set_state(app.engine, case_id, 1, b"garbage")
    assert _found(app, case_id) == [(Kind.altered_event, 1)]
    for municipality, stream in (("other-town", case_id), (CITY, "not-a-uuid")):
        with pytest.raises(NotFound):
            verify_case(app.engine, municipality, stream)
    meeting = app.record_meeting(
        COORDINATOR,
        MeetingKind.case_conference,
        [{"case_id": cases[1], "timing": "none", "plan_version": None, "outcome": "noted"}],
        held_on="2026-05-10",
        meeting_format="online",
        participants=[{"agency_id": "demo-coordinator", "role": "coordinator", "attended": True}],
    )
    with pytest.raises(NotFound):
        verify_case(app.engine, CITY, str(meeting.id))


def test_kasane_verify_prints_the_findings_and_exits_non_zero(
    app: Kasane,
    cases: tuple[str, str],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`kasane verify` over every stream, and `kasane verify CASE_ID` over one."""
    case_id, bystander = cases
    monkeypatch.setenv("KASANE_DATABASE_URL", database_url)
    assert cli.main(["verify"]) == 0
    assert capsys.readouterr().out == "verified 2 stream(s), 10 event(s): ok\n"

    _set_state(app.engine, case_id, 3, b"{}")
    assert cli.main(["verify"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].split("\t")[:3] == [case_id, "3", "altered_event"]
    assert out[-1] == "verified 2 stream(s), 10 event(s): 1 finding(s)"
    assert cli.main(["verify", bystander]) == 0
    assert capsys.readouterr().out == "verified 1 stream(s), 5 event(s): ok\n"
    assert cli.main(["verify", "00000000-0000-0000-0000-000000000000"]) == 2


def test_get_case_verify_reports_to_the_auditor_of_its_municipality(
    client: TestClient, make_api_key: Callable[[str, Role], str], database_url: str
) -> None:
    """GET /cases/{id}/verify: auditor and municipality only, 404 across municipalities."""
    app = Kasane(database_url)
    case_id = _case(app)
    answer = client.get(f"/cases/{case_id}/verify", headers={"X-API-Key": "dev-auditor"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"case_id": case_id, "events": 5, "ok": True, "findings": []}

    _set_state(app.engine, case_id, 2, json.dumps({"forged": True}).encode())
    answer = client.get(f"/cases/{case_id}/verify", headers={"X-API-Key": "dev-municipality"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ok"] is False
    assert [(f["kind"], f["version"]) for f in body["findings"]] == [("altered_event", 2)]

    refused = client.get(f"/cases/{case_id}/verify", headers={"X-API-Key": "dev-coordinator"})
    assert refused.status_code == 403
    other = make_api_key("other-town", Role.auditor)
    elsewhere = client.get(f"/cases/{case_id}/verify", headers={"X-API-Key": other})
    assert elsewhere.status_code == 404
    assert elsewhere.json()["code"] == "not_found"
