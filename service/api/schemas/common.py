"""Shared schema pieces: labelled enums, the command answer and the problem document."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from service.domain.values import (
    MEETING_KIND_LABELS,
    ROLE_LABELS,
    TIMING_LABELS,
    ConsentGiver,
    ContactKind,
    MeetingFormat,
    MeetingKind,
    Outcome,
    ReferralRoute,
    Role,
    SupportService,
    Timing,
)
from service.domain.workflow import known_versions, support_case_workflow, workflow_version


def labelled(enum: type[StrEnum], labels: dict[str, str], description: str) -> Any:
    """Return an enum type whose schema lists the Japanese label of every value."""
    listing = "、".join(f"{v.value}={labels[v.value]}" for v in enum)
    schema = {
        "type": "string",
        "enum": [v.value for v in enum],
        "description": f"{description} ({listing})",
        "x-enum-labels": {v.value: labels[v.value] for v in enum},
    }
    return Annotated[enum, WithJsonSchema(schema)]


# --- bounded input: every string, list and date of a request has a limit (README, "Limits") ---

ID_MAX = 64
# Ids are agency, person, consent, meeting, host and case ids: `demo-coordinator`, `member-1`,
# `consent-1`, UUIDs. Letters, digits and `. _ : -`, starting with a letter or a digit.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
# Filters of the list endpoints that name a state, a kind or a status.
CODE_PATTERN = r"^[a-z][a-z_]{0,63}$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
SHORT_TEXT_MAX = 200
MAX_VERSION = 2**31 - 1  # versions are INTEGER columns
FREE_TEXT_MAX = 4000
LIST_MAX = 50
MEETING_LIST_MAX = 100
HOUSEHOLD_MAX = 30
# A fixed window rather than one around "today": a body is valid or not whatever day it is
# sent (idempotent retries, queued submissions), and validation runs before the app's clock is
# reached. Birth dates need the early end; anything past the late end is a typo.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)

# C0 and C1 control characters (NUL included) and DEL; free text may hold tabs and line breaks.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _refusing(control: re.Pattern[str]) -> Callable[[str], str]:
    def check(value: str) -> str:
        found = control.search(value)
        if found is not None:
            raise PydanticCustomError(
                "control_character",
                "control characters are not allowed (found U+{code})",
                {"code": f"{ord(found.group()):04X}"},
            )
        return value

    return check


Id = Annotated[str, StringConstraints(max_length=ID_MAX, pattern=ID_PATTERN)]
ShortText = Annotated[
    str, StringConstraints(max_length=SHORT_TEXT_MAX), AfterValidator(_refusing(_CONTROL))
]
FreeText = Annotated[
    str, StringConstraints(max_length=FREE_TEXT_MAX), AfterValidator(_refusing(_CONTROL_IN_TEXT))
]
BusinessDate = Annotated[dt.date, Field(ge=EARLIEST_DATE, le=LATEST_DATE)]
Ids = Annotated[list[Id], Field(max_length=LIST_MAX)]
ShortTexts = Annotated[list[ShortText], Field(max_length=LIST_MAX)]
BusinessDates = Annotated[list[BusinessDate], Field(max_length=LIST_MAX)]


class Strict(BaseModel):
    """Base of request bodies: unknown fields are refused (no mass assignment)."""

    # The strings not typed as Id, ShortText or FreeText are enums and URLs; the cap is a
    # backstop should a plain `str` field be added.
    model_config = ConfigDict(extra="forbid", str_max_length=FREE_TEXT_MAX)


RoleField = labelled(Role, ROLE_LABELS, "Role of an agency")
MeetingKindField = labelled(MeetingKind, MEETING_KIND_LABELS, "Kind of meeting")
TimingField = labelled(Timing, TIMING_LABELS, "Timing of the agenda item (R-MTG-5)")
OutcomeField = labelled(
    Outcome,
    {"approved": "承認", "deferred": "保留", "not_approved": "不承認", "noted": "報告・確認"},
    "Outcome of the agenda item",
)
MeetingFormatField = labelled(
    MeetingFormat, {"in_person": "対面", "online": "オンライン"}, "Format of the meeting"
)
ServiceField = labelled(
    SupportService,
    {"outreach": "アウトリーチ等を通じた継続的支援事業", "participation": "参加支援事業"},
    "Service that needs the municipality's support decision",
)
ContactKindField = labelled(
    ContactKind,
    {
        "home_visit": "自宅訪問",
        "information_from_surroundings": "周囲からの情報収集",
        "phone": "電話",
        "letter": "手紙",
        "accompanied_visit": "同行支援",
        "office_visit": "来所",
    },
    "How the person was approached",
)
ConsentGiverField = labelled(
    ConsentGiver, {"person": "本人", "legal_representative": "法定代理人"}, "Who gave the consent"
)
RouteField = labelled(
    ReferralRoute,
    {"referral": "支援関係機関からのつなぎ", "direct_consultation": "直接相談"},
    "How the case came to the coordinator",
)
# Cases run under the version they began with (or were migrated to): a state of any kept
# version is a valid answer.
_STATE_LABELS = {
    state: label
    for version in reversed(known_versions())
    for state, label in workflow_version(version).state_labels.items()
} | support_case_workflow().state_labels
CaseStateField = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "enum": list(_STATE_LABELS),
            "description": "State of the case ("
            + "、".join(f"{s}={label}" for s, label in _STATE_LABELS.items())
            + ")",
            "x-enum-labels": _STATE_LABELS,
        }
    ),
]
ExpectedVersion = Annotated[
    int | None,
    Field(
        default=None,
        ge=1,
        le=MAX_VERSION,
        description="The case version the command was prepared against; a stale one is refused "
        "(409). The `If-Match` header does the same and answers 412.",
    ),
]


class CommandAccepted(BaseModel):
    """The answer to every case command."""

    case_id: str = Field(description="Id of the case")
    version: int = Field(description="The case's version after the command")
    state: CaseStateField = Field(description="The case's state after the command")
    state_label: str = Field(description="Japanese label of the state")
    allowed_commands: list[str] = Field(description="Commands the workflow allows now")
    consent_id: str | None = Field(default=None, description="Id of the consent just given")
    plan_version: int | None = Field(default=None, description="Version of the plan just drafted")


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(description="URI of the problem type")
    title: str = Field(description="Short Japanese title for users")
    status: int = Field(description="HTTP status")
    detail: str = Field(description="What went wrong, in English")
    code: str = Field(description="Stable machine-readable error code")
    rules: list[str] = Field(default_factory=list, description="Rule IDs of RULES.md involved")
    allowed_commands: list[str] = Field(
        default_factory=list, description="Commands the case allows now, where relevant"
    )
    errors: list[dict[str, Any]] = Field(
        default_factory=list, description="Field errors of a malformed request"
    )
