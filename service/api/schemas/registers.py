"""Schemas of the registers (hosts, community issues) and of the state report."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema

from service.api.schemas.common import (
    BusinessDate,
    ExpectedVersion,
    FreeText,
    ShortText,
    ShortTexts,
    Strict,
)
from service.domain.community_issue import ISSUE_STATUS_LABELS, IssueStatus
from service.domain.host import HOST_KIND_LABELS, HostKind


def _labelled_schema(enum: type[StrEnum], labels: dict[str, str], description: str) -> Any:
    """Return the JSON schema of an enum listing the Japanese label of every value."""
    listing = "、".join(f"{v.value}={labels[v.value]}" for v in enum)
    return {
        "type": "string",
        "enum": [v.value for v in enum],
        "description": f"{description} ({listing})",
        "x-enum-labels": {v.value: labels[v.value] for v in enum},
    }


HostKindField = Annotated[
    HostKind,
    WithJsonSchema(_labelled_schema(HostKind, HOST_KIND_LABELS, "Kind of host (R-PAR-3)")),
]
# A host takes people in one by one; a capacity beyond this is an input error (and an INTEGER).
MAX_CAPACITY = 100_000
IssueStatusField = Annotated[
    IssueStatus,
    WithJsonSchema(
        _labelled_schema(IssueStatus, ISSUE_STATUS_LABELS, "Status of a community issue")
    ),
]


class HostContact(Strict):
    """The business contact of the host organisation (not personal data)."""

    organisation: ShortText = Field(default="", description="Organisation (法人・団体名)")
    department: ShortText = Field(default="", description="Department or desk (担当部署)")
    phone: ShortText = Field(default="", description="Business phone")
    email: ShortText = Field(default="", description="Business e-mail")
    address: ShortText = Field(default="", description="Business address")


class HostCreate(Strict):
    """Register a host (受け入れ先) of participation support (R-PAR-3)."""

    name: ShortText = Field(min_length=1, description="名称")
    kind: HostKindField = Field(description="種別: what the host offers")
    capacity: int | None = Field(
        default=None, ge=0, le=MAX_CAPACITY, description="受け入れ可能人数"
    )
    contact: HostContact = Field(default_factory=HostContact, description="連絡先")
    fields_of_activity: ShortTexts = Field(default_factory=list, description="活動分野")


class HostChange(Strict):
    """Change some fields of a host; fields left out keep their value (R-PAR-3)."""

    name: ShortText | None = Field(default=None, min_length=1, description="名称")
    kind: HostKindField | None = Field(default=None, description="種別")
    capacity: int | None = Field(
        default=None, ge=0, le=MAX_CAPACITY, description="受け入れ可能人数"
    )
    contact: HostContact | None = Field(default=None, description="連絡先 (replaces the old one)")
    fields_of_activity: ShortTexts | None = Field(default=None, description="活動分野")
    expected_version: ExpectedVersion


class HostRetirement(Strict):
    """Take a host out of matching; it stays in the register (R-PAR-3)."""

    retired_on: BusinessDate = Field(description="Date")
    reason: FreeText = Field(min_length=1, description="Reason")
    expected_version: ExpectedVersion


class HostAccepted(BaseModel):
    """The answer to a host command."""

    host_id: str = Field(description="Id of the host")
    version: int = Field(description="Version of the host")
    status: str = Field(description="active or retired")


class HostView(BaseModel):
    """A host of the register."""

    model_config = {"extra": "allow"}

    host_id: str = Field(description="Id")
    name: str = Field(description="Name")
    kind: str = Field(description="Kind")
    kind_label: str = Field(description="Japanese label of the kind")
    capacity: int | None = Field(description="Capacity")
    contact: dict[str, str] = Field(description="Business contact")
    fields_of_activity: list[str] = Field(description="Fields of activity")
    status: str = Field(description="Status")
    status_label: str = Field(description="Japanese label of the status")
    version: int = Field(description="Version")


class HostPage(BaseModel):
    """A page of the host register."""

    items: list[HostView] = Field(description="Hosts")
    total: int = Field(description="Hosts matching the filter")
    limit: int = Field(description="Page size")
    offset: int = Field(description="Offset of the page")


class IssueStatusChange(Strict):
    """Move a community issue along its development work (R-RES-1)."""

    status: IssueStatusField = Field(description="New status")
    note: FreeText = Field(min_length=1, description="What was done or decided")
    changed_on: BusinessDate = Field(description="Date")
    expected_version: ExpectedVersion


class IssueAccepted(BaseModel):
    """The answer to a community-issue command."""

    issue_id: str = Field(description="Id of the issue")
    version: int = Field(description="Version of the issue")
    status: str = Field(description="Status")
    status_label: str = Field(description="Japanese label of the status")


class IssueView(BaseModel):
    """A community issue; the raising cases' ids only where the reader may read the case."""

    issue_id: str = Field(description="Id")
    text: str = Field(description="The shortage of social resources (社会資源の不足)")
    status: str = Field(description="Status")
    status_label: str = Field(description="Japanese label of the status")
    first_raised_on: str = Field(description="Date of the first meeting that raised it")
    last_raised_on: str = Field(description="Date of the latest meeting that raised it")
    meeting_count: int = Field(description="Meetings that raised it")
    case_count: int = Field(description="Cases that raised it")
    case_ids: list[str] = Field(description="Ids of the raising cases the reader may read")
    undisclosed_case_count: int = Field(
        description="Raising cases the reader has no basis to read (counted, not named)"
    )
    status_history: list[dict[str, Any]] = Field(description="Status changes with notes")
    version: int = Field(description="Version")


class IssuePage(BaseModel):
    """A page of the municipality's community issues."""

    items: list[IssueView] = Field(description="Issues")
    total: int = Field(description="Issues matching the filter")
    limit: int = Field(description="Page size")
    offset: int = Field(description="Offset of the page")


class StateReport(BaseModel):
    """The state report (R-RPT-1): counts of the period, computed from the events."""

    model_config = {"extra": "allow"}

    municipality_id: str = Field(description="Municipality")
    from_: str = Field(alias="from", description="First day of the period")
    to: str = Field(description="Last day of the period (inclusive)")
    referrals: int = Field(description="紹介・相談受付件数")
    referrals_by_kind: dict[str, int] = Field(description="by referrer kind")
    labels: dict[str, str] = Field(description="Japanese label of every figure (CSV headers)")
