"""Schemas of the case commands and case views (items follow FORMS.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from service.api.schemas.common import (
    HOUSEHOLD_MAX,
    LIST_MAX,
    BusinessDate,
    BusinessDates,
    CaseStateField,
    ConsentGiverField,
    ContactKindField,
    ExpectedVersion,
    FreeText,
    Id,
    Ids,
    RoleField,
    RouteField,
    ServiceField,
    ShortText,
    ShortTexts,
    Strict,
)


class Referral(Strict):
    """The intake block of the intake & application form (相談受付・申込票, R-INT-1)."""

    route: RouteField = Field(description="相談経路: referral or direct consultation")
    referrer_agency_id: Id | None = Field(default=None, description="紹介元: referring agency")
    referrer_kind: RoleField | None = Field(default=None, description="Kind of the referrer")
    received_on: BusinessDate = Field(description="受付日")
    reason: FreeText = Field(description="Why coordination is needed: the compound needs")
    concerns: ShortTexts = Field(default_factory=list, description="相談内容: checked concerns")
    main_concern: ShortText | None = Field(
        default=None, description="The most pressing concern (◎)"
    )
    wishes: FreeText = Field(default="", description="希望: the person's wishes")


class Person(Strict):
    """The person (本人) at the centre of the case. Personal data (要配慮個人情報)."""

    name: ShortText = Field(description="氏名")
    name_kana: ShortText = Field(default="", description="ふりがな")
    sex: Literal["male", "female", "other"] | None = Field(
        default=None, description="性別 (male=男性, female=女性, other=その他)"
    )
    birth_date: BusinessDate | None = Field(default=None, description="生年月日")
    postal_code: ShortText = Field(default="", description="〒")
    address: ShortText = Field(default="", description="住所")
    phone: ShortText = Field(default="", description="電話")
    email: ShortText = Field(default="", description="E-mail")


class HouseholdMember(Strict):
    """A household member (世帯員) the support concerns (R-CON-5)."""

    name: ShortText = Field(description="氏名")
    age: int | None = Field(default=None, ge=0, le=130, description="年齢")
    relationship: ShortText = Field(default="", description="続柄")
    note: FreeText = Field(default="", description="備考")


class CaseCreate(Strict):
    """Open a case from a referral or a direct consultation (R-INT-1)."""

    referral: Referral = Field(description="Intake: referrer and reason")
    person: Person = Field(description="The person; gets person_id `person`")
    household: list[HouseholdMember] = Field(
        default_factory=list,
        max_length=HOUSEHOLD_MAX,
        description="Household members; get ids `member-1`, `member-2`, …",
    )


class ExplanationCreate(Strict):
    """Record an explanation of the service or an accompaniment (R-INT-3)."""

    kind: Literal["explanation", "accompaniment"] = Field(description="説明 or 同行")
    on: BusinessDate = Field(description="Date")
    note: FreeText = Field(default="", description="Note")
    expected_version: ExpectedVersion


class ConsentCreate(Strict):
    """Record one person's consent: application for use and/or sharing (R-INT-2, R-CON-1)."""

    person_id: Id = Field(description="`person` or a household member's id (R-CON-5)")
    application_for_use: bool = Field(description="利用申込: the person applies for the service")
    agency_ids: Ids = Field(default_factory=list, description="Agencies covered by sharing")
    agency_kinds: list[RoleField] = Field(
        default_factory=list, max_length=LIST_MAX, description="Kinds of agency covered by sharing"
    )
    given_by: ConsentGiverField = Field(description="本人 or 法定代理人")
    given_on: BusinessDate = Field(description="Date of the consent")
    method: ShortText = Field(default="form", description="How it was given, e.g. form (申込票)")
    expected_version: ExpectedVersion


class ConsentWithdrawal(Strict):
    """Withdraw a consent (R-CON-3)."""

    consent_id: Id = Field(description="The consent withdrawn")
    on: BusinessDate = Field(description="Date of withdrawal")
    reason: FreeText = Field(default="", description="Reason, if told")
    expected_version: ExpectedVersion


class VersionOnly(Strict):
    """A command with no data but the expected version."""

    expected_version: ExpectedVersion


class ReasonCommand(Strict):
    """A command that records a reason."""

    reason: FreeText = Field(description="Reason")
    expected_version: ExpectedVersion


class Consultation(Strict):
    """The consultation with the referrer before returning a case (R-INT-4)."""

    consulted_on: BusinessDate = Field(description="Date of the consultation")
    consulted_with: ShortText = Field(default="", description="Who at the referrer")
    summary: FreeText = Field(description="Why no coordination is needed")
    cooperation: FreeText = Field(default="", description="How the two keep cooperating")


class ReturnToReferrer(Strict):
    """Return the case to its referrer (R-INT-4)."""

    consultation: Consultation | None = Field(description="The consultation held")
    expected_version: ExpectedVersion


class EarlyStartCreate(Strict):
    """Record an early start of outreach or participation support (R-DEC-3)."""

    service: ServiceField = Field(description="Service started early")
    reason: FreeText = Field(description="Why early support is needed")
    started_on: BusinessDate = Field(description="Start date")
    expected_version: ExpectedVersion


class ContactAttemptCreate(Strict):
    """Record an attempt to reach the person (R-SUS-2)."""

    kind: ContactKindField = Field(description="How")
    on: BusinessDate = Field(description="When")
    reached: bool = Field(description="Whether contact with the person was made")
    note: FreeText = Field(default="", description="Note")
    expected_version: ExpectedVersion


class AssessmentDomain(Strict):
    """One domain of the intake-assessment sheet."""

    domain: ShortText = Field(description="e.g. health, work, housing, family relations, care")
    items: ShortTexts = Field(default_factory=list, description="Checked items")
    narrative: FreeText = Field(default="", description="Narrative (personal data)")


class InformationSource(Strict):
    """An agency asked for assessment information (R-ASM-1)."""

    agency_id: Id = Field(description="Agency")
    requested_on: BusinessDate = Field(description="Date requested")


class AssessmentCreate(Strict):
    """The intake-assessment sheet (インテーク・アセスメントシート, R-ASM-1, R-ASM-2)."""

    domains: list[AssessmentDomain] = Field(
        default_factory=list, max_length=LIST_MAX, description="Domains"
    )
    information_sources: list[InformationSource] = Field(
        default_factory=list, max_length=LIST_MAX, description="Agencies the information came from"
    )
    own_assessment: bool = Field(default=True, description="The coordinator assessed itself")
    summary: FreeText = Field(default="", description="Summary for the meeting")
    expected_version: ExpectedVersion


class PlanRole(Strict):
    """One agency's role in the plan (役割分担)."""

    agency_id: Id = Field(description="Agency")
    agency_kind: RoleField = Field(description="Kind of agency")
    role: ShortText = Field(description="What the agency does")


class PlanCreate(Strict):
    """A plan version (プラン, R-PLN-1)."""

    goals: ShortTexts = Field(description="支援の目標")
    policy: FreeText = Field(description="方向性: the support policy")
    roles: list[PlanRole] = Field(max_length=LIST_MAX, description="役割分担")
    monitoring_dates: BusinessDates = Field(description="モニタリングの時期")
    services: list[ServiceField] = Field(
        default_factory=list,
        max_length=LIST_MAX,
        description="Outreach / participation support used (R-DEC-1)",
    )
    expected_version: ExpectedVersion


class MeetingReference(Strict):
    """Approve a plan or re-plan at a layered support meeting (R-MTG-5 A/B)."""

    meeting_id: Id = Field(description="The meeting whose agenda item approved the plan")
    expected_version: ExpectedVersion


class SupportDecisionCreate(Strict):
    """The municipality's support decision (R-DEC-1, R-DEC-2)."""

    granted: bool = Field(description="支援決定 (true) or 不承認 (false)")
    reason: FreeText = Field(default="", description="Required when refused (R-DEC-2)")
    decided_on: BusinessDate = Field(description="Date of decision")
    expected_version: ExpectedVersion


class MonitoringCreate(Strict):
    """A monitoring record (R-SUP-1, R-SUP-2)."""

    on: BusinessDate = Field(description="Date")
    summary: FreeText = Field(description="Progress gathered from the agencies")
    contact_made: bool = Field(description="Whether the person was in contact")
    expected_version: ExpectedVersion


class FollowUp(Strict):
    """Follow-up after closure (R-END-2)."""

    needed: bool = Field(description="Whether follow-up is needed")
    method: ShortText = Field(default="", description="How, e.g. quarterly visits")
    # Left out of the recorded closure when absent, so closures without it read as before.
    due_on: BusinessDate | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="フォローアップ予定日: when the first follow-up is due (worklists)",
    )


class HandBack(Strict):
    """Hand-back to a comprehensive consultation provider (つなぎもどし, R-END-3)."""

    agency_id: Id = Field(description="Agency")
    agency_kind: RoleField = Field(description="Kind of agency")


class ClosureCreate(Strict):
    """Close the case at a closure meeting (R-END-1..3, R-MTG-5 C)."""

    meeting_id: Id = Field(description="The closure meeting")
    lead_agency_id: Id = Field(description="支援担当者: agency accompanying the person")
    follow_up: FollowUp = Field(description="Follow-up need and method")
    hand_back: HandBack | None = Field(default=None, description="Optional hand-back")
    goal_attainment: FreeText = Field(default="", description="Evaluation of goal attainment")
    expected_version: ExpectedVersion


class SuspensionCreate(Strict):
    """Suspend the case at a suspension meeting (R-SUS-1, R-MTG-5 D)."""

    meeting_id: Id = Field(description="The suspension meeting")
    reason: FreeText = Field(description="Why contact is considered completely lost")
    expected_version: ExpectedVersion


class ResumptionCreate(Strict):
    """Resume a closed (R-END-4) or suspended (R-SUS-3) case."""

    reason: FreeText = Field(description="What changed")
    resumed_on: BusinessDate = Field(description="Date")
    contact_restored_on: BusinessDate | None = Field(
        default=None, description="Required for a suspended case: when contact returned"
    )
    expected_version: ExpectedVersion


class ErasureCreate(Strict):
    """Erase one person's personal data: retention ended, or a lawful request (crypto-shredding)."""

    person_id: Id = Field(description="`person` or a household member's id")
    reason: FreeText = Field(description="Why: retention period ended, or the lawful request")


class ErasureDone(BaseModel):
    """The answer to an erasure."""

    case_id: str = Field(description="Case")
    person_id: str = Field(description="Whose data was erased")
    erased: bool = Field(description="False when it had already been erased")


class CaseSummary(BaseModel):
    """One row of the case list."""

    case_id: str = Field(description="Case id")
    state: CaseStateField = Field(description="State")
    state_label: str = Field(description="Japanese label of the state")
    referrer_kind: str | None = Field(description="Kind of the referrer")
    referrer_agency_id: str | None = Field(description="Referring agency")
    lead_agency_id: str | None = Field(description="Lead agency after closure")
    current_plan_version: int | None = Field(description="Plan version in effect")
    version: int = Field(description="Case version")
    referred_at: str = Field(description="When the case was opened")
    updated_at: str = Field(description="Last change")


class CasePage(BaseModel):
    """A page of the case list."""

    items: list[CaseSummary] = Field(description="Cases")
    total: int = Field(description="Cases matching the filter")
    limit: int = Field(description="Page size")
    offset: int = Field(description="Offset of the page")


class CaseDetail(BaseModel):
    """The case detail view: plan, consents, meetings, lead agency, allowed commands."""

    model_config = {"extra": "allow"}

    case_id: str = Field(description="Case id")
    state: CaseStateField = Field(description="State")
    state_label: str = Field(description="Japanese label of the state")
    version: int = Field(description="Case version")
    allowed_commands: list[str] = Field(description="Commands allowed now")
    current_plan: dict[str, Any] | None = Field(description="Plan in effect")
    plans: list[dict[str, Any]] = Field(description="Every plan version (R-PLN-3)")
    consents: list[dict[str, Any]] = Field(description="Consents per person (R-CON-5)")
    meetings: list[dict[str, Any]] = Field(description="Meetings that took the case")
    lead_agency_id: str | None = Field(description="支援担当者 after closure")


class CaseEvent(BaseModel):
    """One stored event of the case."""

    version: int = Field(description="Case version this event produced")
    type: str = Field(description="Event type (past tense)")
    label: str = Field(description="Japanese label of the event")
    recorded_at: str = Field(description="When it was recorded")
    actor: dict[str, Any] | None = Field(description="Who did it (municipality, agency, role)")
    payload: dict[str, Any] = Field(description="The event's data")


class CaseHistoryEntry(CaseEvent):
    """One event of the case with its position in the municipality's ordered feed."""

    position: int | None = Field(description="Notification id of the event in the store")
