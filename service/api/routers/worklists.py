"""Worklists: what is due for the municipality and for the caller's agency (R-SUP-2, R-SUS-2)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from service.api.deps import App, CurrentActor, GuardedRoute, permit, settings
from service.api.problems import PROBLEMS
from service.api.schemas.common import ID_PATTERN, BusinessDate
from service.settings import Settings

router = APIRouter(
    prefix="/worklists", tags=["worklists"], responses=PROBLEMS, route_class=GuardedRoute
)


class WorklistItem(BaseModel):
    """One due item of a case; no personal data, only what is due and when."""

    case_id: str = Field(description="Case id")
    kind: str = Field(description="What is due (monitoring, follow_up, no_contact, …)")
    kind_label: str = Field(description="Japanese label of the kind")
    label: str = Field(description="Japanese description of the item")
    due_on: dt.date = Field(description="Due date")
    overdue: bool = Field(description="The due date has passed")
    days_overdue: int = Field(description="Days since the due date (0 unless overdue)")
    agency_id: str | None = Field(description="Responsible agency (none: the role as a whole)")
    role: str | None = Field(description="Responsible role (none: the municipality decides)")


class WorklistPage(BaseModel):
    """A page of a worklist, overdue items first, then by due date."""

    as_of: dt.date = Field(description="The day the worklist was computed for")
    no_contact_days: int = Field(description="Days without contact that make a case due")
    items: list[WorklistItem] = Field(description="Items")
    total: int = Field(description="Items matching the filter")
    limit: int = Field(description="Page size")
    offset: int = Field(description="Offset of the page")


Kind = Annotated[
    str | None,
    Query(
        pattern=r"^[a-z_]{1,32}$",
        description="Only items of this kind: monitoring, follow_up, no_contact, plan_meeting, "
        "support_decision, or a kind of an outreach or participation engagement",
    ),
]
OverdueOnly = Annotated[bool, Query(description="Only items whose due date has passed")]
AsOf = Annotated[
    BusinessDate | None,
    Query(description="Compute for this day instead of today (planning ahead)"),
]
NoContactDays = Annotated[
    int | None,
    Query(
        ge=1,
        le=3650,
        description="Days without recorded contact before a case is due (default: setting "
        "KASANE_NO_CONTACT_DAYS)",
    ),
]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="Offset")]
Config = Annotated[Settings, Depends(settings)]


@router.get("", summary="業務一覧（市町村全体）", dependencies=[Depends(permit("list_worklist"))])
def municipality_worklist(
    actor: CurrentActor,
    app: App,
    config: Config,
    kind: Kind = None,
    agency_id: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="Only this agency's items")
    ] = None,
    overdue_only: OverdueOnly = False,
    as_of: AsOf = None,
    no_contact_days: NoContactDays = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> WorklistPage:
    """List what is due across the municipality: monitoring, follow-ups, contact, plans."""
    page = app.worklist(
        actor,
        kind=kind,
        agency_id=agency_id,
        overdue_only=overdue_only,
        as_of=as_of,
        no_contact_days=no_contact_days or config.no_contact_days,
        limit=limit,
        offset=offset,
    )
    return WorklistPage.model_validate(page)


@router.get(
    "/mine", summary="業務一覧（自機関）", dependencies=[Depends(permit("list_my_worklist"))]
)
def my_worklist(
    actor: CurrentActor,
    app: App,
    config: Config,
    kind: Kind = None,
    overdue_only: OverdueOnly = False,
    as_of: AsOf = None,
    no_contact_days: NoContactDays = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> WorklistPage:
    """List what is due for the caller's agency (and for its role as a whole)."""
    page = app.worklist(
        actor,
        mine=True,
        kind=kind,
        overdue_only=overdue_only,
        as_of=as_of,
        no_contact_days=no_contact_days or config.no_contact_days,
        limit=limit,
        offset=offset,
    )
    return WorklistPage.model_validate(page)
