"""Which role may issue which command or query: one declarative table (R-ORG-1)."""

from __future__ import annotations

from service.domain.errors import RoleNotPermitted
from service.domain.values import COMPREHENSIVE_CONSULTATION_KINDS, REFERRER_ROLES, Role

_REFERRERS = REFERRER_ROLES
_CASE_RUNNERS = {Role.coordinator, Role.municipality, Role.integration_client}
_CONTACT_MAKERS = {
    *_CASE_RUNNERS,
    *COMPREHENSIVE_CONSULTATION_KINDS,
    Role.outreach_provider,
    Role.participation_provider,
}
_READERS = set(Role)
# Outreach and participation support: their provider and the case runners (R-OUT, R-PAR).
_OUTREACH = {*_CASE_RUNNERS, Role.outreach_provider}
_PARTICIPATION = {*_CASE_RUNNERS, Role.participation_provider}
# Who keeps the register of hosts (受け入れ先) of participation support (R-PAR-3).
_HOST_KEEPERS = {
    Role.municipality,
    Role.participation_provider,
    Role.coordinator,
    Role.integration_client,
}

PERMISSIONS: dict[str, frozenset[Role]] = {
    # commands
    "refer_case": frozenset({*_REFERRERS, *_CASE_RUNNERS}),
    "record_explanation": frozenset({*_REFERRERS, *_CASE_RUNNERS}),
    "give_consent": frozenset(_CASE_RUNNERS),
    "withdraw_consent": frozenset(_CASE_RUNNERS),
    "start_assessment": frozenset(_CASE_RUNNERS),
    "refer_to_council": frozenset({Role.municipality, Role.coordinator}),
    "return_to_referrer": frozenset(_CASE_RUNNERS),
    "record_early_start": frozenset(_CASE_RUNNERS),
    "record_contact_attempt": frozenset(_CONTACT_MAKERS),
    "complete_assessment": frozenset(_CASE_RUNNERS),
    "draft_plan": frozenset(_CASE_RUNNERS),
    "approve_plan": frozenset(_CASE_RUNNERS),
    "approve_replan": frozenset(_CASE_RUNNERS),
    "decide_support": frozenset({Role.municipality}),
    "record_monitoring": frozenset(_CONTACT_MAKERS),
    "start_replan": frozenset(_CASE_RUNNERS),
    "close_case": frozenset(_CASE_RUNNERS),
    "suspend_case": frozenset(_CASE_RUNNERS),
    "resume_case": frozenset(_CASE_RUNNERS),
    "record_meeting": frozenset({Role.coordinator, Role.municipality, Role.integration_client}),
    "erase_personal_data": frozenset({Role.municipality}),
    "manage_webhooks": frozenset({Role.municipality, Role.integration_client}),
    "replay_dead_letters": frozenset({Role.municipality}),
    "register_host": frozenset(_HOST_KEEPERS),
    "update_host": frozenset(_HOST_KEEPERS),
    "retire_host": frozenset(_HOST_KEEPERS),
    "change_community_issue_status": frozenset(
        {Role.municipality, Role.community_building_provider, Role.coordinator}
    ),
    # moving running cases to a new version of the workflow definition (`kasane workflows migrate`)
    "migrate_workflow": frozenset({Role.municipality}),
    # outreach support (アウトリーチ等を通じた継続的支援事業)
    "outreach.start": frozenset(_OUTREACH),
    "outreach.record_activity": frozenset(_OUTREACH),
    "outreach.draft_plan": frozenset(_OUTREACH),
    "outreach.approve_plan": frozenset(_OUTREACH),
    "outreach.approve_replan": frozenset(_OUTREACH),
    "outreach.close_engagement": frozenset(_OUTREACH),
    "outreach.suspend_engagement": frozenset(_OUTREACH),
    "outreach.resume_engagement": frozenset(_OUTREACH),
    # participation support (参加支援事業)
    "participation.start": frozenset(_PARTICIPATION),
    "participation.record_intake": frozenset(_PARTICIPATION),
    "participation.assess": frozenset(_PARTICIPATION),
    "participation.draft_plan": frozenset(_PARTICIPATION),
    "participation.approve_plan": frozenset(_PARTICIPATION),
    "participation.approve_replan": frozenset(_PARTICIPATION),
    "participation.match_host": frozenset(_PARTICIPATION),
    "participation.record_settling_in": frozenset(_PARTICIPATION),
    "participation.record_follow_up": frozenset(_PARTICIPATION),
    "participation.pay_cost": frozenset(_PARTICIPATION),
    "participation.close_engagement": frozenset(_PARTICIPATION),
    "participation.suspend_engagement": frozenset(_PARTICIPATION),
    "participation.resume_engagement": frozenset(_PARTICIPATION),
    "participation.record_periodic_contact": frozenset(_PARTICIPATION),
    # queries
    "list_cases": frozenset(_READERS),
    "read_case": frozenset(_READERS),
    "read_case_events": frozenset(_READERS),
    "list_meetings": frozenset(_READERS),
    "read_meeting": frozenset(_READERS),
    "read_access_log": frozenset({Role.municipality, Role.auditor}),
    "read_feed": frozenset(
        {Role.municipality, Role.coordinator, Role.integration_client, Role.auditor}
    ),
    "verify_case": frozenset({Role.municipality, Role.auditor}),
    "list_hosts": frozenset(_READERS),
    "read_host": frozenset(_READERS),
    "list_community_issues": frozenset(_READERS),
    "read_community_issue": frozenset(_READERS),
    "read_state_report": frozenset({Role.municipality, Role.auditor, Role.integration_client}),
    # what is due across the municipality, and for the caller's own agency (R-SUP-2)
    "list_worklist": frozenset(
        {Role.municipality, Role.coordinator, Role.integration_client, Role.auditor}
    ),
    "list_my_worklist": frozenset(_READERS),
    "list_engagements": frozenset(_READERS),
    "read_engagement": frozenset(_READERS),
}


def authorize(role: Role, action: str) -> None:
    """Raise RoleNotPermitted unless `role` may perform `action`."""
    if role not in PERMISSIONS[action]:
        raise RoleNotPermitted(f"the role '{role}' may not {action}", rules=("R-ORG-1",))
