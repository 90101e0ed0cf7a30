"""Writes check involvement, not only the role (R-CON-1..4, R-SUS-2, R-OUT-2, R-OUT-3, R-PAR-2).

An agency of the municipality whose role may issue a command still writes only to the cases it
takes part in: as the referrer, named in a plan, as the provider of the case's outreach or
participation support, covered by an active consent (by id or kind), or as an attending member
of a support council that took the case. The municipality, its coordinator and its integration
client run every case. The acting agency is always the credential's, never the body's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.domain.permissions import PERMISSIONS
from service.domain.values import Role
from tests.e2e.support import (
    CENTER,
    CENTER_AGENCY,
    CITY,
    COORDINATOR,
    HOARDING_COUPLE,
    MANDATORY,
    SELF_RELIANCE,
    SELF_RELIANCE_AGENCY,
    SIMPLE_ROLES,
    SUZUKI,
    TAKAHASHI,
    YAMADA,
    as_,
    case,
    case_in_support,
    consent,
    contact_attempt,
    engagement,
    engagement_path,
    events,
    hold_meeting,
    item,
    meeting_body,
    ok,
    participant,
    post,
    problem,
    refer,
    start_assessment,
    start_engagement,
)
from tests.e2e.test_permissions_walk import _app_of, _guarded, _send

Json = dict[str, Any]
MakeKey = Callable[[str, Role], str]

# the agencies of the keys made below (tests/conftest.py make_api_key: `<municipality>-<role>`)
OUTREACH_PROVIDER = "demo-city-outreach_provider"
PARTICIPATION_PROVIDER = "demo-city-participation_provider"
DISABILITY = "demo-city-disability_consultation"
INVOLVEMENT_RULES = ["R-CON-1", "R-CON-2", "R-CON-4"]

CONTACT = {"kind": "phone", "on": "2026-07-02", "reached": True}
MONITORING = {"on": "2026-07-03", "summary": "電話で近況", "contact_made": True}
VISIT = {"kind": "home_visit", "on": "2026-07-04", "outcome": "met", "contact_made": True}
EXPLANATION = {"kind": "explanation", "on": "2026-04-02"}


@pytest.fixture
def outreach_key(make_api_key: MakeKey) -> str:
    """An outreach provider of demo-city with no part in any case yet."""
    return make_api_key("demo-city", Role.outreach_provider)


@pytest.fixture
def participation_key(make_api_key: MakeKey) -> str:
    """A participation provider of demo-city with no part in any case yet."""
    return make_api_key("demo-city", Role.participation_provider)


@pytest.fixture
def disability_key(make_api_key: MakeKey) -> str:
    """A disability consultation of demo-city with no part in any case yet."""
    return make_api_key("demo-city", Role.disability_consultation)


def not_involved(response: Any) -> Json:
    """Assert the answer is 403 agency_not_involved with the rules it rests on."""
    body = problem(response, 403, "agency_not_involved")
    assert body["rules"] == INVOLVEMENT_RULES
    return body


def suzuki_losing_contact(
    client: TestClient, roles: list[tuple[str, str, str]] | None = None
) -> str:
    """鈴木ケン in support (outreach decided), three home visits without contact (R-SUS-2)."""
    case_id = case_in_support(client, SUZUKI, ["outreach"], roles=roles)
    for on in ("2026-06-01", "2026-06-08", "2026-06-15"):
        contact_attempt(client, case_id, "home_visit", False, on=on)
    return case_id


# --- an agency with no part in the case is refused ---------------------------------------------


def test_R_SUS_2_an_uninvolved_agency_cannot_reset_the_suspension_evidence(
    client: TestClient, disability_key: str, outreach_key: str
) -> None:
    """R-SUS-2, R-CON-4: an agency with no part in the case records no "contact made" —
    neither as a contact attempt nor as monitoring — so the recorded attempts stand."""
    case_id = suzuki_losing_contact(client)
    before = events(client, case_id)
    for key in (disability_key, outreach_key):
        not_involved(post(client, key, f"/cases/{case_id}/contact-attempts", CONTACT))
        not_involved(post(client, key, f"/cases/{case_id}/monitoring", MONITORING))
    assert events(client, case_id) == before

    # the suspension the attempts support still goes through (R-SUS-1, R-MTG-5 D)
    meeting_id = hold_meeting(
        client, meeting_body([item(case_id, "suspension", 1)], held_on="2026-07-10")
    )
    body = {"meeting_id": meeting_id, "reason": "連絡が完全に途絶えた"}
    assert ok(post(client, COORDINATOR, f"/cases/{case_id}/suspension", body))["state"] == (
        "suspended"
    )


def test_R_OUT_3_an_uninvolved_outreach_provider_records_no_activity(
    client: TestClient, outreach_key: str
) -> None:
    """R-OUT-2, R-OUT-3, R-CON-2: the case's outreach is another provider's; an outreach
    provider with no part in the case may not record activities, plans or its start."""
    case_id = suzuki_losing_contact(client)
    start_engagement(client, COORDINATOR, case_id, "outreach", basis="support_decision")
    before = engagement(client, case_id, "outreach")
    path = engagement_path(case_id, "outreach", "activities")
    not_involved(post(client, outreach_key, path, VISIT))
    plan = {"goals": ["会える関係"], "policy": "家庭訪問", "monitoring_dates": []}
    not_involved(post(client, outreach_key, engagement_path(case_id, "outreach", "plans"), plan))
    assert engagement(client, case_id, "outreach") == before

    other_case = refer(client, HOARDING_COUPLE)["case_id"]
    ok(post(client, CITY, f"/cases/{other_case}/council-referral", {"reason": "接触を拒否"}))
    start = {"basis": "early_start", "reason": "早期の関わり", "started_on": "2026-04-10"}
    path = engagement_path(other_case, "outreach", "start")
    not_involved(post(client, outreach_key, path, start))


def test_R_PAR_2_an_uninvolved_participation_provider_records_nothing(
    client: TestClient, participation_key: str
) -> None:
    """R-PAR-1, R-PAR-2: participation support of a case is started and recorded only by a
    provider that takes part in the case."""
    case_id = case_in_support(client, SUZUKI, ["participation"])
    start = {"basis": "support_decision", "started_on": "2026-06-15"}
    path = engagement_path(case_id, "participation", "start")
    not_involved(post(client, participation_key, path, start))
    start_engagement(client, COORDINATOR, case_id, "participation", basis="support_decision")
    intake = {"on": "2026-06-16", "concerns": ["就労"]}
    path = engagement_path(case_id, "participation", "intake")
    not_involved(post(client, participation_key, path, intake))
    assert engagement(client, case_id, "participation")["version"] == 1


def test_R_INT_3_an_uninvolved_agency_records_no_explanation(
    client: TestClient, disability_key: str
) -> None:
    """R-INT-3: the explanation before referral is the referrer's (or the coordinator's); an
    agency with no part in the case may not record one, while the referrer may."""
    case_id = refer(client, SUZUKI)["case_id"]
    not_involved(post(client, disability_key, f"/cases/{case_id}/explanations", EXPLANATION))
    ok(post(client, SELF_RELIANCE, f"/cases/{case_id}/explanations", EXPLANATION))
    assert case(client, case_id)["version"] == 2


# --- each way of taking part is accepted ---------------------------------------------------------


def test_R_INT_1_the_referrer_takes_part(client: TestClient) -> None:
    """R-INT-1, R-SUS-2: the referring agency records contact with the person it referred."""
    case_id = case_in_support(client, SUZUKI)  # referred by demo-self-reliance
    ok(post(client, SELF_RELIANCE, f"/cases/{case_id}/contact-attempts", CONTACT))
    ok(post(client, SELF_RELIANCE, f"/cases/{case_id}/monitoring", MONITORING))


def test_R_PLN_1_an_agency_named_in_a_plan_takes_part(
    client: TestClient, disability_key: str
) -> None:
    """R-PLN-1, R-SUP-1: an agency the plan's roles name records monitoring; the same agency
    on a case whose plan does not name it is refused."""
    roles = [*SIMPLE_ROLES, (DISABILITY, "disability_consultation", "障害福祉サービスの調整")]
    named = case_in_support(client, YAMADA, roles=roles)
    unnamed = case_in_support(client, YAMADA)
    ok(post(client, disability_key, f"/cases/{named}/monitoring", MONITORING))
    not_involved(post(client, disability_key, f"/cases/{unnamed}/monitoring", MONITORING))


def test_R_OUT_2_the_provider_of_the_case_s_outreach_takes_part(
    client: TestClient, outreach_key: str
) -> None:
    """R-OUT-2, R-SUS-2, R-CON-3: the provider that started the case's outreach (under a
    sharing consent) keeps recording its visits and the case's contact attempts after that
    consent is withdrawn: it provides the case's support."""
    case_id = refer(client, YAMADA)["case_id"]
    consent(client, case_id, [CENTER_AGENCY])
    sharing = consent(client, case_id, [OUTREACH_PROVIDER], application_for_use=False)
    start_assessment(client, case_id)
    start_engagement(client, outreach_key, case_id, "outreach", reason="長男が20年ひきこもり")
    body = {"consent_id": sharing["consent_id"], "on": "2026-04-11"}
    ok(post(client, COORDINATOR, f"/cases/{case_id}/consent-withdrawals", body))
    ok(post(client, outreach_key, engagement_path(case_id, "outreach", "activities"), VISIT))
    ok(post(client, outreach_key, f"/cases/{case_id}/contact-attempts", CONTACT))


def test_R_OUT_2_a_provider_named_in_the_service_plan_takes_part(
    client: TestClient, outreach_key: str
) -> None:
    """R-OUT-2, R-OUT-4: outreach started by the coordinator; once its plan names the
    provider, the provider records the activities."""
    case_id = suzuki_losing_contact(client)
    start_engagement(client, COORDINATOR, case_id, "outreach", basis="support_decision")
    path = engagement_path(case_id, "outreach", "activities")
    not_involved(post(client, outreach_key, path, VISIT))
    plan = {
        "goals": ["会える関係"],
        "policy": "家庭訪問",
        "roles": [{"party": "provider", "agency_id": OUTREACH_PROVIDER, "role": "家庭訪問"}],
        "monitoring_dates": ["2026-08-01"],
    }
    ok(post(client, COORDINATOR, engagement_path(case_id, "outreach", "plans"), plan))
    ok(post(client, outreach_key, path, VISIT))


def test_R_CON_1_a_consent_naming_the_agency_or_its_kind(
    client: TestClient, disability_key: str, participation_key: str
) -> None:
    """R-CON-1: a sharing consent that names the agency, or its kind of agency, lets it take
    part in the case."""
    case_id = refer(client, TAKAHASHI)["case_id"]
    consent(client, case_id, [CENTER_AGENCY])
    start_assessment(client, case_id)
    not_involved(post(client, disability_key, f"/cases/{case_id}/contact-attempts", CONTACT))
    consent(client, case_id, [DISABILITY])
    ok(post(client, disability_key, f"/cases/{case_id}/contact-attempts", CONTACT))

    by_kind = {
        "person_id": "person",
        "application_for_use": False,
        "agency_kinds": ["participation_provider"],
        "given_by": "person",
        "given_on": "2026-04-04",
    }
    ok(post(client, COORDINATOR, f"/cases/{case_id}/consents", by_kind))
    start = {"basis": "early_start", "reason": "早期の居場所づくり", "started_on": "2026-04-10"}
    path = engagement_path(case_id, "participation", "start")
    assert ok(post(client, participation_key, path, start), 201)["state"]


def test_R_CON_3_after_the_withdrawal_the_consent_is_no_basis(
    client: TestClient, disability_key: str
) -> None:
    """R-CON-3: once the consent naming the agency is withdrawn, it is refused again."""
    case_id = refer(client, TAKAHASHI)["case_id"]
    consent(client, case_id, [CENTER_AGENCY])
    start_assessment(client, case_id)
    consent_id = consent(client, case_id, [DISABILITY], application_for_use=False)["consent_id"]
    ok(post(client, disability_key, f"/cases/{case_id}/contact-attempts", CONTACT))
    body = {"consent_id": consent_id, "on": "2026-04-20"}
    ok(post(client, COORDINATOR, f"/cases/{case_id}/consent-withdrawals", body))
    not_involved(post(client, disability_key, f"/cases/{case_id}/contact-attempts", CONTACT))


def test_R_CON_2_an_attending_member_of_the_support_council_takes_part(
    client: TestClient, outreach_key: str, disability_key: str
) -> None:
    """R-CON-2, R-OUT-3: without consent the case is shared in the support council; the
    outreach provider that attended it starts outreach, an agency marked absent does not."""
    case_id = refer(client, HOARDING_COUPLE)["case_id"]
    ok(post(client, CITY, f"/cases/{case_id}/council-referral", {"reason": "接触を拒否"}))
    council = meeting_body(
        [item(case_id, "none", None, "noted")],
        kind="support_council",
        participants=[
            *MANDATORY,
            participant(OUTREACH_PROVIDER, "outreach_provider"),
            participant(DISABILITY, "disability_consultation", attended=False),
        ],
        title="支援会議",
    )
    hold_meeting(client, council, key=CITY)
    start = {"basis": "early_start", "reason": "早期の関わり", "started_on": "2026-04-10"}
    path = engagement_path(case_id, "outreach", "start")
    assert ok(post(client, outreach_key, path, start), 201)["state"] == "reaching_out"
    not_involved(post(client, disability_key, f"/cases/{case_id}/explanations", EXPLANATION))


def test_R_ORG_1_case_runners_write_to_every_case_of_their_municipality(
    client: TestClient,
) -> None:
    """R-ORG-1: the coordinator and the municipality run the case whoever referred it."""
    case_id = case_in_support(client, SUZUKI)
    ok(post(client, COORDINATOR, f"/cases/{case_id}/monitoring", MONITORING))
    ok(post(client, CITY, f"/cases/{case_id}/contact-attempts", CONTACT))


# --- the acting agency is the credential's --------------------------------------------------------


def test_R_OUT_2_a_body_cannot_record_as_another_agency(
    client: TestClient, outreach_key: str
) -> None:
    """R-OUT-2, R-CON-4: an activity naming another agency as the one that acted is refused
    (403 acting_agency_mismatch) and stores nothing; without it, or naming the caller, it is
    stored as the caller's."""
    roles = [*SIMPLE_ROLES, (OUTREACH_PROVIDER, "outreach_provider", "家庭訪問")]
    case_id = suzuki_losing_contact(client, roles)
    start_engagement(client, outreach_key, case_id, "outreach", basis="support_decision")
    path = engagement_path(case_id, "outreach", "activities")
    for impersonated in (CENTER_AGENCY, "outreach-hikari", SELF_RELIANCE_AGENCY):
        refusal = problem(
            post(client, outreach_key, path, {**VISIT, "agency_id": impersonated}),
            403,
            "acting_agency_mismatch",
        )
        assert refusal["rules"] == ["R-OUT-2", "R-CON-4"]
    ok(post(client, outreach_key, path, VISIT))
    ok(post(client, outreach_key, path, {**VISIT, "agency_id": OUTREACH_PROVIDER}))
    activities = engagement(client, case_id, "outreach")["activities"]
    assert [a["agency_id"] for a in activities] == [OUTREACH_PROVIDER, OUTREACH_PROVIDER]
    # the coordinator records as itself too: it cannot file a visit under the provider's name
    problem(
        post(client, COORDINATOR, path, {**VISIT, "agency_id": OUTREACH_PROVIDER}),
        403,
        "acting_agency_mismatch",
    )


def test_R_INT_1_a_referring_agency_refers_as_itself(client: TestClient) -> None:
    """R-INT-1: a referring agency's referral names itself, whatever the body says."""
    body = {**SUZUKI, "referral": {**SUZUKI["referral"], "referrer_agency_id": "somebody-else"}}
    case_id = ok(post(client, CENTER, "/cases", body), 201)["case_id"]
    referral = case(client, case_id)["referral"]
    assert (referral["referrer_agency_id"], referral["referrer_kind"]) == (
        CENTER_AGENCY,
        "community_general_support_center",
    )
    assert ok(client.get(f"/cases/{case_id}", headers=as_(CENTER)))["case_id"] == case_id


# --- every write route ---------------------------------------------------------------------------


def test_R_CON_4_every_write_to_a_case_checks_involvement(
    client: TestClient, make_api_key: MakeKey
) -> None:
    """R-CON-1, R-CON-4, R-ORG-1: on every command route of a case and of its outreach and
    participation support, each role the table permits that is not a case runner, with an
    agency the case never named, gets 403 agency_not_involved; the case and its support are
    unchanged afterwards."""
    case_id = case_in_support(client, SUZUKI, ["outreach", "participation"])
    for service in ("outreach", "participation"):
        start_engagement(client, COORDINATOR, case_id, service, basis="support_decision")
    meeting_id = case(client, case_id)["meetings"][0]["meeting_id"]
    ids = {"case_id": case_id, "meeting_id": meeting_id}
    before = [events(client, case_id)] + [
        engagement(client, case_id, service) for service in ("outreach", "participation")
    ]
    runners = {Role.municipality, Role.coordinator, Role.integration_client}
    keys = {role: make_api_key("demo-city", role) for role in Role if role not in runners}
    walked, wrong = 0, []
    for method, route, action in _guarded(_app_of(client)):
        if method != "POST" or "{case_id}" not in route.path:
            continue
        for role in sorted(PERMISSIONS[action] - runners):
            response = _send(client, keys[role], method, route, action, ids)
            body = response.json()
            if response.status_code != 403 or body.get("code") != "agency_not_involved":
                wrong.append(f"{route.path} as {role}: {response.status_code} {body.get('code')}")
            walked += 1
    assert wrong == []
    assert walked >= 30
    after = [events(client, case_id)] + [
        engagement(client, case_id, service) for service in ("outreach", "participation")
    ]
    assert after == before
