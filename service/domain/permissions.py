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
}


def authorize(role: Role, action: str) -> None:
    """Raise RoleNotPermitted unless `role` may perform `action`."""
    if role not in PERMISSIONS[action]:
        raise RoleNotPermitted(f"the role '{role}' may not {action}", rules=("R-ORG-1",))
