"""Which agency takes part in a case, and so may write to it (R-CON-1, R-CON-2, R-CON-4).

The role table (`permissions.py`) says what a kind of agency may do; this says on which cases.
The case runners — the municipality, its coordinator and its integration client — run every case
of their municipality (R-ORG-1). Any other agency writes to a case only where it has a part in
it: it referred the case (R-INT-1), a plan version names it in its roles (R-PLN-1), it provides
one of the case's outreach or participation services or that service's plan names it (R-OUT,
R-PAR), an active consent covers it by id or kind (R-CON-1, R-CON-3), or it attended a support
council that took the case (R-CON-2). Anything else would record facts about a person the
agency has no basis to know (R-CON-4, R-ORG-2).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, Protocol

from service.domain.errors import AgencyNotInvolved
from service.domain.values import Actor, Role

Json = Mapping[str, Any]

CASE_RUNNERS = frozenset({Role.municipality, Role.coordinator, Role.integration_client})
RULES = ("R-CON-1", "R-CON-2", "R-CON-4")


class Involvement(StrEnum):
    """Why an agency takes part in a case (the first that holds)."""

    case_runner = "case_runner"
    referrer = "referrer"
    plan_role = "plan_role"
    engagement_provider = "engagement_provider"
    engagement_plan_role = "engagement_plan_role"
    consent = "consent"
    support_council = "support_council"


class CaseFacts(Protocol):
    """What the rule reads of a case (the `SupportCase` aggregate has it)."""

    @property
    def municipality_id(self) -> str: ...

    @property
    def referral(self) -> Json: ...

    @property
    def plans(self) -> Sequence[Json]: ...

    @property
    def consents(self) -> Sequence[Json]: ...


class EngagementFacts(Protocol):
    """What the rule reads of one of the case's outreach or participation engagements."""

    @property
    def start(self) -> Json: ...

    @property
    def plans(self) -> Sequence[Json]: ...


def involvement(
    actor: Actor,
    case: CaseFacts,
    engagements: Iterable[EngagementFacts] = (),
    council_members: Collection[str] = (),
) -> Involvement | None:
    """Return why `actor` takes part in `case`, or None when it has no part in it.

    `engagements` are the case's engagements the actor may rely on; `council_members` the
    agencies that attended a support council that took the case.
    """
    if actor.municipality_id != case.municipality_id or actor.role is Role.auditor:
        return None
    if actor.role in CASE_RUNNERS:
        return Involvement.case_runner
    agency = actor.agency_id
    if case.referral.get("referrer_agency_id") == agency:
        return Involvement.referrer
    if _named_in(case.plans, agency):
        return Involvement.plan_role
    for engagement in engagements:
        if engagement.start.get("agency_id") == agency:
            return Involvement.engagement_provider
        if _named_in(engagement.plans, agency):
            return Involvement.engagement_plan_role
    if any(_covers(c, actor) for c in case.consents if c.get("withdrawn_on") is None):
        return Involvement.consent
    if agency in council_members:
        return Involvement.support_council
    return None


def ensure_involved(
    actor: Actor,
    case: CaseFacts,
    command: str,
    engagements: Iterable[EngagementFacts] = (),
    council_members: Collection[str] = (),
) -> Involvement:
    """Return why `actor` may write `command` to `case`; raise AgencyNotInvolved otherwise."""
    reason = involvement(actor, case, engagements, council_members)
    if reason is None:
        raise AgencyNotInvolved(
            f"the agency '{actor.agency_id}' takes no part in this case and may not {command}: "
            "it is not the referrer, named in a plan, the provider of its support, covered by "
            "a consent, or a member of a support council that took it",
            rules=RULES,
        )
    return reason


def _named_in(plans: Iterable[Json], agency: str) -> bool:
    """Whether any plan version names `agency` in its roles (役割分担)."""
    return any(r.get("agency_id") == agency for p in plans for r in p.get("roles") or ())


def _covers(consent: Json, actor: Actor) -> bool:
    """Whether a consent covers the agency by its id or its kind (R-CON-1)."""
    return actor.agency_id in (consent.get("agency_ids") or ()) or str(actor.role) in (
        consent.get("agency_kinds") or ()
    )
