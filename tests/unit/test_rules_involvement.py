"""Who takes part in a case, and so may write to it (R-CON-1..4, R-INT-1, R-PLN-1, R-ORG-1).

The rule is a pure function of the case's facts: these tests build the facts through the
aggregates' own commands and ask it directly.
"""

from __future__ import annotations

import pytest

from service.domain.errors import ActingAgencyMismatch, AgencyNotInvolved, RoleNotPermitted
from service.domain.involvement import Involvement, ensure_involved, involvement
from service.domain.values import Actor, Role
from tests.unit.engagement_support import activity, early, engagement_plan
from tests.unit.support import (
    CENTER,
    CHILD_SUPPORT,
    CITY,
    COORDINATOR,
    DISABILITY,
    MUNICIPALITY_ID,
    OUTREACH,
    PARTICIPATION,
    SELF_RELIANCE,
    in_assessment,
    in_planning,
    plan,
    refer_sato,
    refer_suzuki,
)

# an agency of the same municipality that has no part in the cases below
OUTSIDER = Actor(MUNICIPALITY_ID, "hokatsu-kita", Role.community_general_support_center)
INTEGRATION = Actor(MUNICIPALITY_ID, "vendor-x", Role.integration_client)
AUDITOR = Actor(MUNICIPALITY_ID, "kansa", Role.auditor)


def sharing(agency_ids: tuple[str, ...] = (), kinds: tuple[str, ...] = ()) -> dict[str, object]:
    """Return a sharing consent of the person naming agencies and kinds of agency (R-CON-1)."""
    return {
        "person_id": "person",
        "application_for_use": True,
        "agency_ids": list(agency_ids),
        "agency_kinds": list(kinds),
        "given_by": "person",
        "given_on": "2026-04-03",
        "method": "form",
    }


def test_R_ORG_1_case_runners_take_part_in_every_case_of_their_municipality() -> None:
    """R-ORG-1: the municipality, its coordinator and its integration client run every case of
    the municipality; the same roles of another municipality take no part in it."""
    case = refer_sato()
    for runner in (CITY, COORDINATOR, INTEGRATION):
        assert involvement(runner, case) is Involvement.case_runner
        elsewhere = Actor("yuhi-machi", runner.agency_id, runner.role)
        assert involvement(elsewhere, case) is None


def test_R_CON_4_an_agency_without_a_part_in_the_case_is_refused() -> None:
    """R-CON-1, R-CON-4: an agency the case never named — not the referrer, in no plan, no
    provider, in no consent, at no council — may not write to it, whatever its role."""
    case = in_planning(refer_sato())
    case.draft_plan(COORDINATOR, plan(roles=(CENTER, SELF_RELIANCE)))
    assert involvement(OUTSIDER, case) is None
    with pytest.raises(AgencyNotInvolved) as refusal:
        ensure_involved(OUTSIDER, case, "record_monitoring")
    assert refusal.value.code == "agency_not_involved"
    assert refusal.value.rules == ("R-CON-1", "R-CON-2", "R-CON-4")
    assert isinstance(refusal.value, RoleNotPermitted)  # answered 403 like a role refusal


def test_R_CON_4_the_auditor_takes_part_in_no_case() -> None:
    """R-CON-4: the auditor reads; it writes to no case, even one whose consent names it."""
    case = refer_sato()
    case.give_consent(COORDINATOR, sharing((AUDITOR.agency_id,), ("auditor",)))
    assert involvement(AUDITOR, case) is None


def test_R_INT_1_the_referrer_takes_part() -> None:
    """R-INT-1, R-INT-3: the agency that referred the case (つないだ) takes part in it."""
    assert involvement(CHILD_SUPPORT, refer_sato()) is Involvement.referrer
    assert involvement(SELF_RELIANCE, refer_sato()) is None


def test_R_PLN_1_an_agency_named_in_any_plan_version_takes_part() -> None:
    """R-PLN-1, R-PLN-3: the roles (役割分担) of a plan name the agencies of the team; a later
    version without the agency keeps the earlier version's history."""
    case = in_planning(refer_suzuki())
    assert involvement(DISABILITY, case) is None
    case.draft_plan(COORDINATOR, plan(roles=(CENTER, DISABILITY)))
    assert involvement(DISABILITY, case) is Involvement.plan_role
    case.draft_plan(COORDINATOR, plan(roles=(CENTER,)))
    assert involvement(DISABILITY, case) is Involvement.plan_role


def test_R_OUT_R_PAR_the_provider_of_the_case_s_support_takes_part() -> None:
    """R-OUT-2, R-PAR-2, R-DEC-3: the agency that started the case's outreach or participation
    support takes part in the case; so does a party its plan names."""
    case = in_assessment(refer_sato())
    outreach = early(case, "outreach", OUTREACH)
    assert involvement(OUTREACH, case) is None
    assert involvement(OUTREACH, case, [outreach]) is Involvement.engagement_provider
    other = in_assessment(refer_sato())
    by_coordinator = early(other, "outreach", COORDINATOR)
    assert involvement(OUTREACH, other, [by_coordinator]) is None
    by_coordinator.draft_plan(COORDINATOR, engagement_plan())  # names OUTREACH's agency
    assert involvement(OUTREACH, other, [by_coordinator]) is Involvement.engagement_plan_role
    assert involvement(PARTICIPATION, other, [by_coordinator]) is None


def test_R_CON_1_a_consent_covering_the_agency_by_id_or_kind() -> None:
    """R-CON-1, R-CON-5: an active consent naming the agency, or its kind, of any person of
    the case's household, lets it take part."""
    case = refer_sato()
    case.give_consent(COORDINATOR, sharing((DISABILITY.agency_id,)))
    assert involvement(DISABILITY, case) is Involvement.consent
    assert involvement(OUTSIDER, case) is None
    case.give_consent(COORDINATOR, {**sharing(kinds=("community_general_support_center",))})
    assert involvement(OUTSIDER, case) is Involvement.consent


def test_R_CON_3_a_withdrawn_consent_no_longer_lets_the_agency_take_part() -> None:
    """R-CON-3: from the withdrawal on, the consent is no basis for writing either."""
    case = refer_sato()
    consent_id = case.give_consent(COORDINATOR, sharing((DISABILITY.agency_id,)))
    case.withdraw_consent(COORDINATOR, consent_id, on="2026-04-20", reason="本人の申出")
    assert involvement(DISABILITY, case) is None


def test_R_CON_2_an_attending_member_of_a_support_council_takes_part() -> None:
    """R-CON-2: a case without consent is shared only in the support council; the agencies
    that attended a council that took the case take part in it."""
    case = refer_sato()
    assert involvement(OUTREACH, case, council_members=()) is None
    members = {CITY.agency_id, OUTREACH.agency_id}
    assert involvement(OUTREACH, case, council_members=members) is Involvement.support_council


def test_R_OUT_2_an_activity_is_recorded_as_the_calling_agency_never_another() -> None:
    """R-OUT-2, R-CON-4: the acting agency comes from the credential; a record that names
    another agency is refused, and one naming none or the caller is stored as the caller."""
    case = in_assessment(refer_sato())
    outreach = early(case, "outreach", OUTREACH)
    with pytest.raises(ActingAgencyMismatch) as refusal:
        outreach.record_activity(
            OUTREACH, {**activity(), "agency_id": "other-agency"}, person_consented=True
        )
    assert refusal.value.code == "acting_agency_mismatch"
    assert outreach.activities == []
    outreach.record_activity(OUTREACH, activity(), person_consented=True)
    own = {**activity(on="2026-04-19"), "agency_id": OUTREACH.agency_id}
    outreach.record_activity(OUTREACH, own, person_consented=True)
    assert [a["agency_id"] for a in outreach.activities] == [OUTREACH.agency_id] * 2
