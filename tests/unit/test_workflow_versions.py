"""Versioned workflow definitions: cases keep their version; a migration is an event of the case."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
import yaml

from service.domain import workflow as workflow_module
from service.domain.case import SupportCase
from service.domain.errors import CommandNotAllowed, DomainError
from service.domain.values import Timing
from service.domain.workflow import (
    UnknownWorkflowVersion,
    Workflow,
    known_versions,
    load_workflow,
    superseded_path,
    support_case_workflow,
    workflow_version,
)
from tests.unit import support
from tests.unit.support import (
    COORDINATOR,
    REVISED_VERSION,
    in_memory_app,
    isolated_workflow_registry,
    write_revised_workflow,
)

REAL_VERSIONS_DIR = workflow_module.VERSIONS_DIR


@pytest.fixture
def revised(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Workflow:
    """Version 2 of the support-case workflow, kept on file in a temporary versions directory."""
    isolated_workflow_registry(monkeypatch, tmp_path / "versions")
    write_revised_workflow(tmp_path / "versions")
    return workflow_version(REVISED_VERSION)


def test_the_current_file_applies_to_new_cases(yamada: SupportCase) -> None:
    """A new case records the version of `workflows/support_case.yaml`."""
    assert yamada.workflow_version == support_case_workflow().version
    assert yamada.workflow is support_case_workflow()


def test_a_version_kept_on_file_is_loaded_into_the_registry(revised: Workflow) -> None:
    """`workflows/versions/<name>/v<N>.yaml` is found by its number and registered once."""
    assert (revised.name, revised.version) == ("support_case", REVISED_VERSION)
    assert "supporting" in revised.states and "in_support" not in revised.states
    assert workflow_version(REVISED_VERSION) is revised
    assert known_versions() == [1, REVISED_VERSION]
    assert load_workflow("support_case").version == 1  # the current file still applies


def test_an_unknown_version_is_refused_with_a_stable_code(revised: Workflow) -> None:
    """A version neither registered nor on file is refused (never a KeyError)."""
    with pytest.raises(UnknownWorkflowVersion) as exc:
        workflow_version(99)
    assert exc.value.code == "unknown_workflow_version"


def test_a_file_must_define_the_version_its_name_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """v3.yaml holding version 2 is a mistake that is refused, not silently registered."""
    isolated_workflow_registry(monkeypatch, tmp_path)
    path = superseded_path("support_case", 3)
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(support.revised_workflow_document(), allow_unicode=True))
    with pytest.raises(ValueError):
        workflow_version(3)


def test_every_superseded_version_of_the_product_loads() -> None:
    """Each file under workflows/versions loads, is named by its version, and is older than the
    definition in force."""
    for path in sorted(REAL_VERSIONS_DIR.glob("*/v*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        name, version = path.parent.name, int(path.stem[1:])
        assert (document["name"], document["version"]) == (name, version), path
        assert version < load_workflow(name).version, path
        Workflow(document)


def test_migration_moves_the_case_to_the_mapped_state(
    revised: Workflow, yamada: SupportCase
) -> None:
    """The migration event carries both versions and states, and who did it and why."""
    support.in_support(yamada)
    yamada.migrate_workflow(support.CITY, revised, "supporting", "通知の改正")
    assert (yamada.workflow_version, yamada.state) == (REVISED_VERSION, "supporting")
    assert yamada.workflow is revised
    migrated = [e for e in yamada.collect_events() if type(e).__name__ == "WorkflowMigrated"]
    (event,) = migrated
    assert (event.from_version, event.to_version) == (1, REVISED_VERSION)
    assert (event.from_state, event.to_state) == ("in_support", "supporting")
    assert event.state == "supporting"  # the state after, as on every case event
    assert event.actor["role"] == "municipality"
    assert event.reason == "通知の改正"


@pytest.mark.parametrize(
    ("to_state", "code"),
    [("in_support", "workflow_state_unknown"), ("nowhere", "workflow_state_unknown")],
)
def test_migration_to_a_state_the_version_lacks_is_refused(
    revised: Workflow, yamada: SupportCase, to_state: str, code: str
) -> None:
    """The mapped state must exist in the target version; nothing is recorded otherwise."""
    support.in_support(yamada)
    with support.refused(DomainError, code, case=yamada):
        yamada.migrate_workflow(support.CITY, revised, to_state, "通知の改正")


def test_migration_to_the_same_version_is_refused(yamada: SupportCase) -> None:
    """Moving a case to the version it runs is a mistake, not an event."""
    with support.refused(DomainError, "workflow_version_unchanged", case=yamada):
        yamada.migrate_workflow(support.CITY, support_case_workflow(), "referred", "x")


def test_migration_needs_a_reason(revised: Workflow, yamada: SupportCase) -> None:
    """The reason of a migration is part of the record."""
    with support.refused(DomainError, "reason_required", case=yamada):
        yamada.migrate_workflow(support.CITY, revised, "referred", "  ")


def test_replay_uses_the_version_in_force_at_each_event(
    revised: Workflow, yamada: SupportCase
) -> None:
    """Events before the migration ran under v1, after it under v2; replay reproduces both.

    Monitoring in `supporting` can only have been decided by v2 (v1 has no such state), and
    closing afterwards uses v2's transitions; the stored history replays to the same case,
    and replaying up to the migration gives the v1 case back.
    """
    app = in_memory_app()
    support.in_support(yamada)
    before = yamada.version
    yamada.migrate_workflow(support.CITY, revised, "supporting", "通知の改正")
    yamada.record_monitoring(
        COORDINATOR, {"on": "2026-07-10", "summary": "順調", "contact_made": True}
    )
    version = yamada.current_plan["version"]
    yamada.close_case(
        COORDINATOR, support.meeting_for(yamada, Timing.closure, version), support.closure()
    )
    assert yamada.state == "closed"
    app.save(yamada)

    replayed: SupportCase = app.repository.get(UUID(str(yamada.id)))
    assert support.domain_state(replayed) == support.domain_state(yamada)
    assert replayed.workflow is revised

    under_v1: SupportCase = app.repository.get(UUID(str(yamada.id)), version=before)
    assert (under_v1.workflow_version, under_v1.state) == (1, "in_support")
    assert "record_monitoring" in under_v1.allowed_commands

    after_migration: SupportCase = app.repository.get(UUID(str(yamada.id)), version=before + 1)
    assert (after_migration.workflow_version, after_migration.state) == (2, "supporting")
    assert after_migration.allowed_commands == revised.allowed_commands("supporting")


def test_an_unmigrated_case_keeps_running_under_its_version(
    revised: Workflow, yamada: SupportCase, sato: SupportCase
) -> None:
    """Migrating one case leaves another on v1: each answers by its own definition."""
    support.in_support(yamada)
    support.in_support(sato)
    yamada.migrate_workflow(support.CITY, revised, "supporting", "通知の改正")
    assert sato.workflow_version == 1 and sato.state == "in_support"
    sato.record_monitoring(
        COORDINATOR, {"on": "2026-07-10", "summary": "順調", "contact_made": True}
    )
    with pytest.raises(CommandNotAllowed):
        yamada.complete_assessment(COORDINATOR, {"summary": "x"})


def test_a_state_only_another_version_knows_keeps_its_label(revised: Workflow) -> None:
    """Lists and details hold cases of several versions: each state is labelled by its own."""
    from service.domain.workflow import state_label

    assert "supporting" not in support_case_workflow().state_labels
    assert state_label("supporting", REVISED_VERSION) == revised.state_labels["supporting"]
    assert state_label("supporting") == revised.state_labels["supporting"]
    assert state_label("in_support", 1) == support_case_workflow().state_labels["in_support"]
    assert state_label("nowhere") == "nowhere"
