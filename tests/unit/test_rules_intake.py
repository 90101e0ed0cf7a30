"""Intake (相談受付): R-INT-1 .. R-INT-4."""

from __future__ import annotations

import pytest

from service.domain.case import SupportCase
from service.domain.errors import DomainError, GateRefused
from tests.unit import support
from tests.unit.support import (
    CENTER,
    COMMUNITY_BUILDING,
    COORDINATOR,
    DISABILITY,
    not_allowed,
    refused,
)


def test_R_INT_1_referral_records_referrer_kind_and_reason(yamada: SupportCase) -> None:
    """R-INT-1: a referral opens the case with the referrer (agency and kind) and the reason."""
    assert yamada.state == "referred"
    assert yamada.municipality_id == support.MUNICIPALITY_ID
    assert yamada.referral["referrer_agency_id"] == "hokatsu-minami"
    assert yamada.referral["referrer_kind"] == "community_general_support_center"
    assert "8050" in yamada.referral["reason"]
    assert yamada.person["name"] == "山田ハナ"
    assert yamada.person["person_id"] == "person"
    assert [m["person_id"] for m in yamada.household] == ["member-1"]
    assert yamada.person_ids == ["person", "member-1"]
    events = yamada.collect_events()
    assert [type(e).__name__ for e in events] == ["CaseReferred"]
    assert events[0].actor == CENTER.as_dict()


def test_R_INT_1_community_building_provider_may_refer() -> None:
    """R-INT-1: a community-building provider may also refer a case (別添3 3(3)ア)."""
    case = SupportCase.refer(
        COMMUNITY_BUILDING,
        support.referral_from(COMMUNITY_BUILDING, "居場所で把握した世帯の複合課題"),
        {"name": "匿名"},
        [],
    )
    assert case.state == "referred"
    assert case.referral["referrer_kind"] == "community_building_provider"


def test_R_INT_1_direct_consultation_opens_a_case(hoarding_couple: SupportCase) -> None:
    """R-INT-1: a direct consultation (no referring agency) also opens a case."""
    assert hoarding_couple.state == "referred"
    assert hoarding_couple.referral["route"] == "direct_consultation"
    assert hoarding_couple.person_ids == ["person", "member-1"]


@pytest.mark.parametrize(
    "reason",
    [
        "",
        "   ",
        pytest.param(
            None,
        ),
    ],
)
def test_R_INT_1_referral_without_reason_is_refused(reason: str | None) -> None:
    """R-INT-1: the reason (the compound needs) is recorded; a referral without it is refused."""
    referral = support.referral_from(CENTER, "x")
    referral["reason"] = reason
    with refused(DomainError, "referral_reason_required", rules=["R-INT-1"]):
        SupportCase.refer(CENTER, referral, {"name": "山田ハナ"}, [])


def test_R_INT_2_assessment_without_consent_is_refused(yamada: SupportCase) -> None:
    """R-INT-2: the coordinator takes the case only with the person's application for use."""
    with refused(GateRefused, "consent_required", rules=["R-INT-2"], case=yamada) as exc:
        yamada.start_assessment(COORDINATOR)
    assert set(exc.value.allowed_commands) == support.ALLOWED["referred"]


def test_R_INT_2_application_for_use_records_who_when_and_how(yamada: SupportCase) -> None:
    """R-INT-2: the application for use is recorded with who gave it, when and how."""
    consent_id = yamada.give_consent(COORDINATOR, support.application())
    assert consent_id == "consent-1"
    assert yamada.has_application_for_use
    [consent] = yamada.active_consents("person")
    assert consent["given_by"] == "person"
    assert consent["given_on"] == "2026-04-01"
    assert consent["method"] == "form"
    assert consent["withdrawn_on"] is None
    yamada.start_assessment(COORDINATOR)
    assert yamada.state == "assessment"


def test_R_INT_2_legal_representative_may_apply_for_the_person(yamada: SupportCase) -> None:
    """R-INT-2: a legal representative may give the application for use on the person's behalf."""
    yamada.give_consent(
        COORDINATOR, support.application(given_by="legal_representative", method="visit")
    )
    assert yamada.active_consents("person")[0]["given_by"] == "legal_representative"
    yamada.start_assessment(COORDINATOR)
    assert yamada.state == "assessment"


def test_R_INT_3_explanation_and_accompaniment_are_recorded_as_events(
    yamada: SupportCase,
) -> None:
    """R-INT-3: the explanation of the service and an accompaniment (同行支援) are events."""
    yamada.record_explanation(CENTER, "explanation", "2026-03-28", "紹介元がサービスを説明")
    yamada.record_explanation(COORDINATOR, "accompaniment", "2026-03-30", "不安が強く同行")
    assert yamada.state == "referred"
    assert [e["kind"] for e in yamada.explanations] == ["explanation", "accompaniment"]
    assert support.event_names(yamada) == [
        "CaseReferred",
        "ExplanationRecorded",
        "ExplanationRecorded",
    ]


def test_R_INT_3_explanation_is_not_recorded_once_assessment_started(yamada: SupportCase) -> None:
    """R-INT-3: explanation belongs to intake; in assessment the command is not allowed."""
    support.in_assessment(yamada)
    with not_allowed(yamada):
        yamada.record_explanation(COORDINATOR, "explanation", "2026-04-10")


@pytest.mark.parametrize(
    "consultation",
    [
        None,
        {},
        {"consulted_on": "2026-04-05", "summary": ""},
        {"consulted_on": " ", "summary": "通常の連携で対応可能"},
        pytest.param(
            {"consulted_on": None, "summary": None},
        ),
    ],
)
def test_R_INT_4_return_to_referrer_without_consultation_is_refused(
    takahashi: SupportCase, consultation: dict | None
) -> None:
    """R-INT-4: a case returns to the referrer only after consulting the referrer."""
    with refused(GateRefused, "referrer_consultation_required", rules=["R-INT-4"], case=takahashi):
        takahashi.return_to_referrer(COORDINATOR, consultation)


def test_R_INT_4_takahashi_is_returned_after_consulting_the_referrer(
    takahashi: SupportCase,
) -> None:
    """R-INT-4: 高橋ユイ is returned to the disability consultation, both keeping contact."""
    consultation = {
        "consulted_on": "2026-04-05",
        "summary": "障害者相談支援とハローワークの通常の連携で対応できる",
        "cooperation": "月1回の情報共有を継続",
        "referrer_agency_id": DISABILITY.agency_id,
    }
    takahashi.return_to_referrer(COORDINATOR, consultation)
    assert takahashi.state == "returned_to_referrer"
    assert takahashi.return_to_referrer_record == consultation
    # the case has left coordination: nothing more is allowed
    with not_allowed(takahashi) as exc:
        takahashi.give_consent(COORDINATOR, support.application())
    assert exc.value.allowed_commands == ()


def test_R_INT_4_return_from_assessment_is_possible_but_not_from_planning(
    takahashi: SupportCase,
) -> None:
    """R-INT-4: the need for coordination is judged at intake/assessment, not once planning."""
    consultation = {"consulted_on": "2026-04-20", "summary": "通常の連携で対応"}
    support.in_planning(takahashi)
    with not_allowed(takahashi):
        takahashi.return_to_referrer(COORDINATOR, consultation)

    other = support.in_assessment(support.refer_takahashi())
    other.return_to_referrer(COORDINATOR, consultation)
    assert other.state == "returned_to_referrer"
