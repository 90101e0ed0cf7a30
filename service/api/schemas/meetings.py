"""Schemas of meeting records (FORMS.md: date, format, participants, cases, shortages)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema

from service.api.schemas.common import (
    MAX_VERSION,
    MEETING_LIST_MAX,
    BusinessDate,
    FreeText,
    Id,
    MeetingFormatField,
    MeetingKindField,
    OutcomeField,
    RoleField,
    ShortText,
    ShortTexts,
    Strict,
    TimingField,
)

AgendaServiceField = Annotated[
    Literal["coordination", "outreach", "participation"],
    WithJsonSchema(
        {
            "type": "string",
            "enum": ["coordination", "outreach", "participation"],
            "description": "Service of the agenda item (coordination=多機関協働事業、"
            "outreach=アウトリーチ等を通じた継続的支援事業、participation=参加支援事業)",
            "x-enum-labels": {
                "coordination": "多機関協働事業",
                "outreach": "アウトリーチ等を通じた継続的支援事業",
                "participation": "参加支援事業",
            },
        }
    ),
]


class Participant(Strict):
    """A participant of a meeting (R-MTG-2)."""

    agency_id: Id = Field(description="Agency")
    role: RoleField = Field(description="Role of the agency")
    attended: bool = Field(default=True, description="Whether it attended")


class AgendaItem(Strict):
    """One case on the agenda, with its own timing and outcome (R-MTG-5, R-MTG-7)."""

    case_id: Id = Field(description="Case")
    timing: TimingField = Field(description="Timing")
    plan_version: int | None = Field(
        default=None,
        ge=1,
        le=MAX_VERSION,
        description="Plan version decided (required at the four timings)",
    )
    outcome: OutcomeField = Field(description="Outcome")
    service: AgendaServiceField = Field(
        default="coordination",
        description="The service whose plan is decided: the case's own coordination plan, or "
        "its outreach or participation plan (R-OUT-4, R-PAR-5); one item per case and service",
    )
    note: FreeText = Field(default="", description="Note")


class MeetingCreate(Strict):
    """Record a held meeting (重層的支援会議 / 支援会議 / ケース会議)."""

    kind: MeetingKindField = Field(description="Kind of meeting")
    held_on: BusinessDate = Field(description="開催日")
    meeting_format: MeetingFormatField = Field(description="対面 or オンライン (R-MTG-4)")
    title: ShortText = Field(default="", description="e.g. 第3回重層的支援会議")
    reused_council: ShortText | None = Field(
        default=None, description="Existing council reused (地域ケア会議, 支援調整会議…, R-MTG-4)"
    )
    participants: list[Participant] = Field(max_length=MEETING_LIST_MAX, description="Participants")
    person_attended: bool = Field(default=False, description="Whether the person attended")
    agenda: list[AgendaItem] = Field(
        default_factory=list, max_length=MEETING_LIST_MAX, description="Cases and outcomes"
    )
    resource_shortages: ShortTexts = Field(
        default_factory=list, description="Shortages of social resources (role C, R-MTG-3)"
    )


class MeetingRecorded(BaseModel):
    """The answer to recording a meeting."""

    meeting_id: str = Field(description="Id of the meeting")
    version: int = Field(description="Version of the meeting record")


class MeetingView(BaseModel):
    """A meeting as shown in the meeting list."""

    model_config = {"extra": "allow"}

    meeting_id: str = Field(description="Id")
    kind: str = Field(description="Kind")
    kind_label: str = Field(description="Japanese label of the kind")
    held_on: str = Field(description="Date held")
    agenda: list[dict[str, Any]] = Field(description="Agenda items")
    participants: list[dict[str, Any]] = Field(description="Participants")


class MeetingPage(BaseModel):
    """A page of the meeting list."""

    items: list[MeetingView] = Field(description="Meetings")
    total: int = Field(description="Meetings matching the filter")
    limit: int = Field(description="Page size")
    offset: int = Field(description="Offset of the page")
