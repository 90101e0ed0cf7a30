"""Schemas of outreach and participation support (アウトリーチ等・参加支援, R-OUT, R-PAR)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from service.api.schemas.common import (
    LIST_MAX,
    MAX_VERSION,
    BusinessDate,
    BusinessDates,
    FreeText,
    Id,
    ShortText,
    ShortTexts,
    Strict,
)
from service.api.schemas.engagement_fields import ActivityField, BasisField, OutcomeCodeField

# An actual-cost payment to a host is far below this; larger figures are input errors.
MAX_PAYMENT_YEN = 1_000_000_000
Party = Literal["person", "host"]
PARTY_DESCRIPTION = "person=本人, host=受け入れ先"
Notes = Annotated[
    FreeText,
    Field(
        default="",
        description="Free-text notes: personal data, sealed at rest and shown only to readers "
        "with a basis for the person",
    ),
]
EngagementVersion = Annotated[
    int | None,
    Field(
        default=None,
        ge=1,
        le=MAX_VERSION,
        description="The engagement version the command was prepared against; a stale one is "
        "refused (409). The `If-Match` header does the same and answers 412.",
    ),
]


class EngagementStart(Strict):
    """Start outreach or participation support (R-PAR-1, R-DEC-3, R-OUT-3)."""

    basis: BasisField = Field(description="support_decision or early_start")
    reason: FreeText = Field(default="", description="Why early support is needed (early starts)")
    started_on: BusinessDate = Field(description="Start date")


class OutreachActivityCreate(Strict):
    """One outreach activity (R-OUT-2); before consent only its facts, no notes (R-OUT-3)."""

    kind: ActivityField = Field(description="Activity")
    on: BusinessDate = Field(description="Date")
    agency_id: Id | None = Field(
        default=None,
        deprecated=True,
        description="The agency that acted is always the caller's (from the credential); if "
        "given it must be the caller's own, another answers 403 acting_agency_mismatch",
    )
    outcome: OutcomeCodeField = Field(description="Outcome code")
    contact_made: bool = Field(description="Whether contact with the person was made (R-SUS-2)")
    person_id: Id = Field(default="person", description="The person the activity concerns")
    notes: Notes
    expected_version: EngagementVersion


class EngagementIntakeCreate(Strict):
    """The participation provider's intake (R-PAR-2)."""

    on: BusinessDate = Field(description="Date")
    concerns: ShortTexts = Field(default_factory=list, description="Concerns (vocabulary)")
    notes: Notes
    expected_version: EngagementVersion


class EngagementAssessmentCreate(Strict):
    """The participation provider's assessment (R-PAR-2)."""

    on: BusinessDate = Field(description="Date")
    domains: ShortTexts = Field(default_factory=list, description="Domains assessed")
    notes: Notes
    expected_version: EngagementVersion


class EngagementRole(Strict):
    """What one party does in the service's plan (incl. the host, R-PAR-2)."""

    party: Literal["provider", "coordinator", "agency", "host", "person"] = Field(
        description="Kind of party"
    )
    agency_id: Id | None = Field(default=None, description="Agency, where the party is one")
    role: ShortText = Field(description="What the party does")


class EngagementPlanCreate(Strict):
    """A plan version of the service (R-OUT-4, R-PAR-2, R-PLN-1)."""

    goals: ShortTexts = Field(
        default_factory=list, description="Goals (participation: connection with society)"
    )
    policy: FreeText = Field(default="", description="Support policy")
    roles: list[EngagementRole] = Field(
        default_factory=list, max_length=LIST_MAX, description="役割分担"
    )
    monitoring_dates: BusinessDates = Field(default_factory=list, description="Monitoring dates")
    menus: ShortTexts = Field(
        default_factory=list, description="Participation menus, e.g. 就労体験, 居場所, 住まい"
    )
    expected_version: EngagementVersion


class EngagementMeetingReference(Strict):
    """Approve the service's plan or re-plan at its meeting (R-MTG-5 A/B)."""

    meeting_id: Id = Field(description="The meeting whose agenda item for this service approved")
    expected_version: EngagementVersion


class HostMatchCreate(Strict):
    """Match the person to a registered host (R-PAR-3)."""

    host_id: Id = Field(description="Host of the municipality's register")
    menu: ShortText = Field(description="What the person does there, e.g. 農作業の就労体験")
    starts_on: BusinessDate = Field(description="First day")
    notes: Notes
    expected_version: EngagementVersion


class SettlingInCreate(Strict):
    """Settling-in support for the person or the host (定着支援, R-PAR-3)."""

    on: BusinessDate = Field(description="Date")
    party: Party = Field(description=PARTY_DESCRIPTION)
    notes: Notes
    expected_version: EngagementVersion


class FollowUpCreate(Strict):
    """A follow-up visit of the person or the host (フォローアップ, R-PAR-3)."""

    on: BusinessDate = Field(description="Date")
    party: Party = Field(description=PARTY_DESCRIPTION)
    contact_made: bool = Field(default=True, description="Whether contact was made")
    connection_stable: bool | None = Field(
        default=None, description="Whether the connection with the host is stable (R-PAR-4)"
    )
    notes: Notes
    expected_version: EngagementVersion


class CostPaymentCreate(Strict):
    """An actual-cost payment to a host (実費の支払, R-PAR-3)."""

    host_id: Id = Field(description="Host paid")
    amount_yen: int = Field(
        le=MAX_PAYMENT_YEN, description="Amount in yen (at least 1, at most 1,000,000,000)"
    )
    period_from: BusinessDate = Field(description="First day of the period paid for")
    period_to: BusinessDate = Field(description="Last day of the period paid for")
    purpose: ShortText = Field(description="What the payment covers")
    paid_on: BusinessDate = Field(description="Date paid")
    expected_version: EngagementVersion


class EngagementClosureCreate(Strict):
    """Close the service at a closure meeting (R-MTG-5 C, R-PAR-4)."""

    meeting_id: Id = Field(description="The closure meeting")
    evaluation: FreeText = Field(default="", description="Evaluation of the service")
    next_contact_due: BusinessDate | None = Field(
        default=None, description="Participation: first periodic contact after closure (R-PAR-4)"
    )
    expected_version: EngagementVersion


class EngagementSuspensionCreate(Strict):
    """Suspend the service at a suspension meeting (R-MTG-5 D, R-SUS-1)."""

    meeting_id: Id = Field(description="The suspension meeting")
    reason: FreeText = Field(description="Why contact is considered completely lost")
    expected_version: EngagementVersion


class EngagementResumptionCreate(Strict):
    """Resume the service after closure or suspension (R-SUS-3)."""

    reason: FreeText = Field(description="What changed")
    resumed_on: BusinessDate = Field(description="Date")
    contact_restored_on: BusinessDate | None = Field(
        default=None, description="Required after a suspension: when contact returned"
    )
    expected_version: EngagementVersion


class PeriodicContactCreate(Strict):
    """Periodic contact after closure (定期的な連絡, R-PAR-4)."""

    on: BusinessDate = Field(description="Date")
    contact_made: bool = Field(description="Whether contact was made")
    next_contact_due: BusinessDate | None = Field(description="Next contact due (required)")
    notes: Notes
    expected_version: EngagementVersion


class EngagementAccepted(BaseModel):
    """The answer to every engagement command."""

    case_id: str = Field(description="Case")
    service: str = Field(description="outreach or participation")
    engagement_id: str = Field(description="Id of the engagement")
    version: int = Field(description="The engagement's version after the command")
    state: str = Field(description="The engagement's state after the command")
    state_label: str = Field(description="Japanese label of the state")
    allowed_commands: list[str] = Field(description="Commands the workflow allows now")
    activity_id: str | None = Field(default=None, description="Id of the activity just recorded")
    plan_version: int | None = Field(default=None, description="Plan version drafted/approved")
    case_version: int | None = Field(default=None, description="The case's version (on start)")


class EngagementSummary(BaseModel):
    """An engagement in the list (workflow facts only)."""

    engagement_id: str = Field(description="Id")
    case_id: str = Field(description="Case")
    service: str = Field(description="outreach or participation")
    service_label: str = Field(description="Japanese name of the service")
    state: str = Field(description="State")
    state_label: str = Field(description="Japanese label of the state")
    basis: str = Field(description="support_decision or early_start")
    pre_consent: bool = Field(description="Started before the person's application for use")
    started_on: str = Field(description="Start date")
    agency_id: str | None = Field(description="Agency that started it")
    host_id: str | None = Field(description="Host matched now (participation)")
    current_plan_version: int | None = Field(description="Plan in effect")
    next_contact_due: str | None = Field(description="Next periodic contact (R-PAR-4)")
    version: int = Field(description="Version")
    updated_at: str = Field(description="Last change")


class EngagementPage(BaseModel):
    """A page of the engagement list."""

    items: list[EngagementSummary] = Field(description="Engagements")
    total: int = Field(description="Engagements matching the filter")
    limit: int = Field(description="Page size")
    offset: int = Field(description="Offset of the page")


class EngagementView(BaseModel):
    """One engagement: its records, plans and meetings; notes as the caller may read them."""

    model_config = {"extra": "allow"}

    engagement_id: str = Field(description="Id")
    case_id: str = Field(description="Case")
    service: str = Field(description="outreach or participation")
    state: str = Field(description="State")
    state_label: str = Field(description="Japanese label of the state")
    allowed_commands: list[str] = Field(description="Commands the workflow allows now")
    version: int = Field(description="Version (ETag)")
    start: dict[str, Any] = Field(description="Basis, reason, date, whether before consent")
    activities: list[dict[str, Any]] = Field(description="Outreach activities (R-OUT-2)")
    plans: list[dict[str, Any]] = Field(description="Plan versions of the service")


class EngagementEvent(BaseModel):
    """One stored event of an engagement; notes as the caller may read them."""

    version: int = Field(description="Engagement version this event produced")
    type: str = Field(description="Event type (past tense)")
    label: str = Field(description="Japanese label of the event")
    recorded_at: str = Field(description="When it was recorded")
    actor: dict[str, Any] | None = Field(description="Who did it (municipality, agency, role)")
    payload: dict[str, Any] = Field(description="The event's data")
