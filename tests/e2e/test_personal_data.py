"""Consent-scoped personal data (R-CON-1, R-CON-2, R-CON-4, R-CON-5, R-ORG-2) and the access log."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.e2e.support import (
    AUDITOR,
    CENTER,
    CENTER_AGENCY,
    CITY,
    COORDINATOR,
    HOARDING_COUPLE,
    SELF_RELIANCE,
    SELF_RELIANCE_AGENCY,
    YAMADA,
    as_,
    assess,
    case,
    consent,
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
)


def _yamada_in_assessment(client: TestClient) -> str:
    """Hana consents to sharing with the center only; her son Taro gives no consent."""
    case_id: str = refer(client, YAMADA, CENTER)["case_id"]
    consent(client, case_id, [CENTER_AGENCY])
    start_assessment(client, case_id)
    assess(client, case_id, summary="ハナさんの家計と長男の孤立")
    return case_id


def _access_log(client: TestClient, case_id: str, key: str = AUDITOR) -> list[dict]:
    page = ok(client.get("/access-log", params={"case_id": case_id}, headers=as_(key)))
    items: list[dict] = page["items"]
    return items


def test_R_CON_1_R_CON_4_agency_covered_by_consent_reads_the_person(client: TestClient) -> None:
    """R-CON-1, R-CON-4: the center, named in Hana's consent, reads her data; the read is logged."""
    case_id = _yamada_in_assessment(client)
    detail = case(client, case_id, CENTER)
    assert detail["person"]["name"] == "山田ハナ"
    assert detail["assessments"][0]["summary"] == "ハナさんの家計と長男の孤立"
    assert detail["assessments"][0]["domains"][0]["narrative"] == "公共料金の未払い"
    log = _access_log(client, case_id)
    assert [(r["agency_id"], r["person_id"], r["basis"]) for r in log] == [
        (CENTER_AGENCY, "person", "consent:consent-1")
    ]
    assert "name" in log[0]["fields"] and "assessment_narrative" in log[0]["fields"]


def test_R_CON_4_agency_outside_the_consent_gets_redacted_fields(client: TestClient) -> None:
    """R-CON-4, R-ORG-2: an agency the consent does not name sees names and narrative redacted."""
    case_id = _yamada_in_assessment(client)
    detail = case(client, case_id, SELF_RELIANCE)
    assert detail["person"] == {
        "person_id": "person",
        "redacted": True,
        "redaction_reason": "no_consent_covering_agency",
    }
    assert "summary" not in detail["assessments"][0]
    assert "山田" not in str(detail)
    assert detail["state"] == "planning"  # the workflow facts stay readable
    history = events(client, case_id, SELF_RELIANCE)
    assert "山田" not in str(history) and "公共料金" not in str(history)
    assert _access_log(client, case_id) == []


def test_R_CON_5_household_member_without_consent_stays_redacted(client: TestClient) -> None:
    """R-CON-5: Hana's consent covers the center, but Taro's data is his own."""
    case_id = _yamada_in_assessment(client)
    detail = case(client, case_id, CENTER)
    assert detail["person"]["name"] == "山田ハナ"
    assert detail["household"] == [
        {
            "person_id": "member-1",
            "redacted": True,
            "redaction_reason": "no_consent_covering_agency",
        }
    ]
    assert "山田タロウ" not in str(events(client, case_id, CENTER))
    # Six months on Taro consents to sharing with the center: his data opens to it.
    consent(client, case_id, [CENTER_AGENCY], person_id="member-1", application_for_use=False)
    assert case(client, case_id, CENTER)["household"][0]["name"] == "山田タロウ"


def test_R_CON_3_withdrawal_takes_effect_on_the_next_read(client: TestClient) -> None:
    """R-CON-3: after Hana withdraws, the center's next read is redacted."""
    case_id = _yamada_in_assessment(client)
    assert case(client, case_id, CENTER)["person"]["name"] == "山田ハナ"
    body = {"consent_id": "consent-1", "on": "2026-05-01"}
    withdrawn = ok(post(client, COORDINATOR, f"/cases/{case_id}/consent-withdrawals", body))
    assert withdrawn["state"] == "council_track"
    assert case(client, case_id, CENTER)["person"]["redaction_reason"] == "consent_withdrawn"


def test_R_CON_2_support_council_members_read_without_consent(client: TestClient) -> None:
    """R-CON-2: members of the support council that took the case read it; others do not."""
    case_id: str = refer(client, HOARDING_COUPLE, CITY)["case_id"]
    ok(post(client, CITY, f"/cases/{case_id}/council-referral", {"reason": "接触拒否"}))
    assert case(client, case_id, SELF_RELIANCE)["person"]["redacted"] is True
    council = meeting_body(
        [item(case_id, "none", None, "noted")],
        kind="support_council",
        participants=[
            participant("demo-city-welfare", "municipality"),
            participant(SELF_RELIANCE_AGENCY, "self_reliance_consultation"),
        ],
        title="支援会議",
    )
    meeting_id = hold_meeting(client, council, CITY)
    detail = case(client, case_id, SELF_RELIANCE)
    assert detail["person"]["name"] == "田中イチロウ"
    assert detail["household"][0]["name"] == "田中フミ"
    assert case(client, case_id, CENTER)["person"]["redacted"] is True
    bases = {(r["agency_id"], r["person_id"], r["basis"]) for r in _access_log(client, case_id)}
    assert bases == {
        (SELF_RELIANCE_AGENCY, "person", f"council:{meeting_id}"),
        (SELF_RELIANCE_AGENCY, "member-1", f"council:{meeting_id}"),
    }


def test_R_CON_4_auditor_reads_history_without_personal_data(client: TestClient) -> None:
    """R-CON-4: the auditor replays the workflow; personal fields stay redacted."""
    case_id = _yamada_in_assessment(client)
    assert case(client, case_id, AUDITOR)["person"]["redacted"] is True
    types = [e["type"] for e in events(client, case_id, AUDITOR)]
    assert types[:2] == ["CaseReferred", "ConsentGiven"]
    assert "山田" not in str(events(client, case_id, AUDITOR))


def test_access_log_is_for_the_auditor_and_the_municipality(client: TestClient) -> None:
    """R-CON-4: the municipality and the auditor query the log; an agency may not."""
    case_id = _yamada_in_assessment(client)
    case(client, case_id, CENTER)
    assert len(_access_log(client, case_id, CITY)) == 1
    problem(client.get("/access-log", headers=as_(CENTER)), 403, "role_not_permitted")
    problem(client.get("/access-log", headers=as_(COORDINATOR)), 403, "role_not_permitted")
