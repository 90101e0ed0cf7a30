"""The role × command table (R-ORG-1): one place, covering every command of the workflow."""

from __future__ import annotations

import pytest

from service.domain.errors import RoleNotPermitted
from service.domain.permissions import PERMISSIONS, authorize
from service.domain.values import Role
from service.domain.workflow import load_workflow, support_case_workflow

QUERIES = {
    "list_cases",
    "read_case",
    "read_case_events",
    "list_meetings",
    "read_meeting",
    "read_access_log",
    "read_feed",
    "verify_case",
    "list_hosts",
    "read_host",
    "list_community_issues",
    "read_community_issue",
    "read_state_report",
    "list_worklist",
    "list_my_worklist",
    "list_engagements",
    "read_engagement",
}

# Every command of the outreach and participation workflows, and their start (R-OUT, R-PAR).
ENGAGEMENT_COMMANDS = {
    f"{service}.{command}"
    for service in ("outreach", "participation")
    for command in ("start", *load_workflow(service).events)
}


def test_every_workflow_command_has_a_row() -> None:
    """A new command in the workflow cannot slip past the role table."""
    assert set(support_case_workflow().events) | {
        "refer_case",
        "record_meeting",
        "erase_personal_data",
        "manage_webhooks",
        "replay_dead_letters",
        "register_host",
        "update_host",
        "retire_host",
        "change_community_issue_status",
        "migrate_workflow",
    } | ENGAGEMENT_COMMANDS | QUERIES == set(PERMISSIONS)


def test_R_DEC_1_R_ORG_1_only_the_municipality_decides() -> None:
    """R-DEC-1, R-ORG-1: the support decision is the municipality's own work."""
    assert PERMISSIONS["decide_support"] == frozenset({Role.municipality})
    for role in Role:
        if role is not Role.municipality:
            with pytest.raises(RoleNotPermitted) as refused:
                authorize(role, "decide_support")
            assert refused.value.code == "role_not_permitted"


def test_auditor_reads_but_never_commands() -> None:
    """The auditor replays history; it changes nothing."""
    for action, roles in PERMISSIONS.items():
        assert (Role.auditor in roles) == (action in QUERIES), action


def test_R_OUT_2_R_PAR_3_each_provider_runs_its_own_service_only() -> None:
    """R-ORG-1, R-OUT-2, R-PAR-3: the outreach provider runs outreach commands and the
    participation provider participation commands, never each other's; the case runners both."""
    for action in ENGAGEMENT_COMMANDS:
        service = action.split(".")[0]
        roles = PERMISSIONS[action]
        assert {Role.coordinator, Role.municipality, Role.integration_client} <= roles, action
        assert (Role.outreach_provider in roles) == (service == "outreach"), action
        assert (Role.participation_provider in roles) == (service == "participation"), action
