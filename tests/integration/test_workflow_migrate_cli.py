"""`kasane workflows migrate`: running cases move to a new version by an explicit state mapping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service import cli
from service.application.kasane import Kasane
from service.application.workflow_migration import CONFLICT, MIGRATED, migrate_cases
from service.domain.case import SupportCase
from service.domain.errors import RoleNotPermitted
from service.domain.values import Actor, MeetingKind, Role
from service.main import create_app
from service.persistence.schema import EVENTS_TABLE, event_store_metadata
from service.persistence.tables import case_list
from service.settings import Settings, get_settings
from tests.unit.support import (
    REVISED_VERSION,
    isolated_workflow_registry,
    write_revised_workflow,
)

COORDINATOR = Actor("demo-city", "demo-coordinator", Role.coordinator)
CITY = Actor("demo-city", "demo-city-welfare", Role.municipality)
OTHER_TOWN = Actor("other-town", "other-coordinator", Role.coordinator)
PARTICIPANTS = [
    {"agency_id": "demo-coordinator", "role": "coordinator", "attended": True},
    {"agency_id": "demo-city-welfare", "role": "municipality", "attended": True},
]
PLAN = {
    "goals": ["家計の安定"],
    "policy": "一体的に支える",
    "roles": [
        {"agency_id": "center", "agency_kind": "community_general_support_center", "role": "見守り"}
    ],
    "monitoring_dates": ["2026-06-01"],
    "services": [],
}
MAP = ["--map", "referred=referred", "--map", "planning=planning", "--map", "in_support=supporting"]


@pytest.fixture
def app(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Kasane]:
    """An application on the test database; version 2 kept in a temporary versions directory;
    the command line reads the same database."""
    isolated_workflow_registry(monkeypatch, tmp_path / "versions")
    write_revised_workflow(tmp_path / "versions")
    monkeypatch.setenv("KASANE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield Kasane(database_url)
    get_settings.cache_clear()


def _case(app: Kasane, stage: str, actor: Actor = COORDINATOR) -> str:
    """A case referred and brought to `stage`: referred, assessment, planning or in_support."""
    referral = {"reason": "複合課題", "referrer_kind": "self_reliance_consultation"}
    case_id = app.refer_case(actor, referral, {"name": "架空の人"}, []).case_id
    if stage == "referred":
        return case_id
    consent = {"person_id": "person", "application_for_use": True, "agency_ids": ["center"]}
    app.give_consent(actor, case_id, None, consent)
    app.start_assessment(actor, case_id, None)
    if stage == "assessment":
        return case_id
    app.complete_assessment(actor, case_id, None, {"summary": "x"})
    app.draft_plan(actor, case_id, None, PLAN)
    if stage == "planning":
        return case_id
    meeting = app.record_meeting(
        actor,
        MeetingKind.layered_support_meeting,
        [{"case_id": case_id, "timing": "plan", "plan_version": 1, "outcome": "approved"}],
        held_on="2026-05-10",
        meeting_format="online",
        participants=PARTICIPANTS,
    )
    app.approve_plan(actor, case_id, None, str(meeting.id))
    return case_id


def _get(app: Kasane, case_id: str) -> SupportCase:
    case: SupportCase = app.repository.get(UUID(case_id))
    return case


def _event_count(app: Kasane) -> int:
    events = event_store_metadata().tables[EVENTS_TABLE]
    with app.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["workflows", "migrate", "--to", str(REVISED_VERSION), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_migrate_moves_mapped_cases_and_refuses_the_unmapped(
    app: Kasane, capsys: pytest.CaptureFixture[str]
) -> None:
    """Mapped cases get a WorkflowMigrated event; a state without mapping is refused and left
    untouched; the summary counts both, and the exit status says something was refused."""
    supported = _case(app, "in_support")
    planning = _case(app, "planning")
    assessing = _case(app, "assessment")  # no mapping for `assessment`
    code, out, _ = _run(capsys, *MAP, "--reason", "通知の改正に伴う移行")
    assert code == 1
    assert "support_case to version 2: 2 migrated, 1 refused" in out
    assert "no mapping for state 'assessment'" in out

    moved = _get(app, supported)
    assert (moved.workflow_version, moved.state) == (2, "supporting")
    assert (_get(app, planning).workflow_version, _get(app, planning).state) == (2, "planning")
    left = _get(app, assessing)
    assert (left.workflow_version, left.state) == (1, "assessment")

    history = app.case_events(CITY, supported)
    last: Any = history[-1]
    assert type(last).__name__ == "WorkflowMigrated"
    assert (last.from_version, last.to_version) == (1, 2)
    assert (last.from_state, last.to_state) == ("in_support", "supporting")
    assert last.reason == "通知の改正に伴う移行"
    assert last.actor == {
        "municipality_id": "demo-city",
        "agency_id": "kasane-cli",
        "role": "municipality",
    }

    # the read models follow, and the moved case answers by version 2
    with app.engine.connect() as conn:
        listed = conn.execute(
            select(case_list.c.state).where(case_list.c.case_id == supported)
        ).scalar_one()
    assert listed == "supporting"
    result = app.record_monitoring(
        COORDINATOR, supported, None, {"on": "2026-06-02", "summary": "ok"}
    )
    assert result.state == "supporting"


def test_dry_run_writes_nothing(app: Kasane, capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run reports what would move and stores no event."""
    case_id = _case(app, "in_support")
    before = _event_count(app)
    code, out, _ = _run(capsys, *MAP, "--dry-run")
    assert code == 0
    assert "dry run, nothing written" in out and "1 would_migrate" in out
    assert _event_count(app) == before
    assert _get(app, case_id).workflow_version == 1


def test_a_target_state_missing_from_the_version_is_refused(
    app: Kasane, capsys: pytest.CaptureFixture[str]
) -> None:
    """Mapping `in_support` to itself fails: version 2 calls it `supporting`."""
    case_id = _case(app, "in_support")
    code, out, err = _run(capsys, "--map", "in_support=in_support")
    assert code == 1
    assert "version 2 has no state 'in_support'" in out
    assert "warning" in err
    assert _get(app, case_id).workflow_version == 1


def test_keep_same_states_with_an_explicit_override(
    app: Kasane, capsys: pytest.CaptureFixture[str]
) -> None:
    """--keep-same-states maps the states both versions share; --map adds the renamed one."""
    ids = [_case(app, s) for s in ("referred", "assessment", "planning", "in_support")]
    code, out, _ = _run(capsys, "--keep-same-states", "--map", "in_support=supporting")
    assert code == 0, out
    assert "4 migrated" in out
    assert [_get(app, i).state for i in ids] == ["referred", "assessment", "planning", "supporting"]
    code, out, _ = _run(capsys, "--keep-same-states", "--map", "in_support=supporting")
    assert code == 0 and "4 unchanged" in out  # running it again changes nothing


def test_one_municipality_only(app: Kasane, capsys: pytest.CaptureFixture[str]) -> None:
    """--municipality leaves other tenants' cases on their version."""
    ours = _case(app, "referred")
    theirs = _case(app, "referred", OTHER_TOWN)
    code, _, _ = _run(capsys, "--map", "referred=referred", "--municipality", "demo-city")
    assert code == 0
    assert _get(app, ours).workflow_version == 2
    assert _get(app, theirs).workflow_version == 1


def test_finished_cases_keep_their_version(app: Kasane, capsys: pytest.CaptureFixture[str]) -> None:
    """A case returned to its referrer has ended: it is reported, not moved."""
    case_id = _case(app, "referred")
    app.return_to_referrer(
        COORDINATOR, case_id, None, {"consulted_on": "2026-04-05", "summary": "調整不要"}
    )
    code, out, _ = _run(capsys, "--keep-same-states")
    assert code == 0 and "1 finished" in out
    assert _get(app, case_id).workflow_version == 1


def test_an_unknown_target_version_is_refused(
    app: Kasane, capsys: pytest.CaptureFixture[str]
) -> None:
    """No definition of the version: refused before anything is read or written."""
    _case(app, "referred")
    code = cli.main(["workflows", "migrate", "--to", "42", "--map", "referred=referred"])
    _, err = capsys.readouterr()
    assert code == 2 and "no version 42" in err


def test_a_bad_mapping_argument_is_refused(app: Kasane, capsys: pytest.CaptureFixture[str]) -> None:
    """`--map` needs OLD=NEW."""
    code, _, err = _run(capsys, "--map", "in_support")
    assert code == 2 and "OLD=NEW" in err


def test_a_case_changed_meanwhile_is_a_conflict_and_nothing_is_written(
    app: Kasane, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event is saved on the version the case was read at: a concurrent change wins."""
    case_id = _case(app, "in_support")
    stale = _get(app, case_id)
    app.record_monitoring(COORDINATOR, case_id, None, {"on": "2026-06-02", "summary": "ok"})
    with monkeypatch.context() as patch:
        patch.setattr(app.repository, "get", lambda *a, **k: stale)
        (result,) = migrate_cases(
            app,
            name="support_case",
            to_version=REVISED_VERSION,
            mapping={"in_support": "supporting"},
            reason="通知の改正",
            municipality_id="demo-city",
        )
    assert result.outcome == CONFLICT
    current = _get(app, case_id)
    assert (current.workflow_version, current.state) == (1, "in_support")


def test_migration_by_a_party_is_the_municipality_s(app: Kasane) -> None:
    """Only the municipality may migrate its cases (R-ORG-1); it migrates only its own."""
    ours = _case(app, "referred")
    theirs = _case(app, "referred", OTHER_TOWN)
    with pytest.raises(RoleNotPermitted):
        migrate_cases(
            app,
            name="support_case",
            to_version=REVISED_VERSION,
            mapping={"referred": "referred"},
            reason="x",
            actor=COORDINATOR,
        )
    (result,) = migrate_cases(
        app,
        name="support_case",
        to_version=REVISED_VERSION,
        mapping={"referred": "referred"},
        reason="通知の改正",
        actor=CITY,
    )
    assert (result.case_id, result.outcome) == (ours, MIGRATED)
    assert _get(app, theirs).workflow_version == 1
    assert app.case_events(CITY, ours)[-1].actor["agency_id"] == CITY.agency_id


def test_versions_lists_the_definitions_that_can_run_cases(
    app: Kasane, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kasane workflows versions` names the version in force and those kept on file."""
    assert cli.main(["workflows", "versions"]) == 0
    out = capsys.readouterr().out
    assert "1\tin force for new cases" in out and "2\tsuperseded" in out


def test_the_migration_reads_in_the_case_history(
    app: Kasane, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """GET /cases/{id}/events shows the migration with its Japanese label, versions and states."""
    case_id = _case(app, "planning")
    assert _run(capsys, "--keep-same-states", "--map", "in_support=supporting")[0] == 0
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        history = client.get(f"/cases/{case_id}/events", headers={"X-API-Key": "dev-municipality"})
        detail = client.get(f"/cases/{case_id}", headers={"X-API-Key": "dev-coordinator"})
    assert history.status_code == 200, history.text
    last = history.json()[-1]
    assert (last["type"], last["label"]) == ("WorkflowMigrated", "ワークフロー定義の版の移行")
    assert last["payload"]["from_version"] == 1 and last["payload"]["to_version"] == 2
    assert detail.status_code == 200, detail.text
    assert (detail.json()["workflow_version"], detail.json()["state"]) == (2, "planning")
