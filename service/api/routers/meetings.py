"""Meeting records and the meeting list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from service.api.deps import App, CurrentActor, GuardedRoute, PathId, permit
from service.api.problems import PROBLEMS
from service.api.schemas.common import CODE_PATTERN, DATE_PATTERN
from service.api.schemas.meetings import MeetingCreate, MeetingPage, MeetingRecorded, MeetingView
from service.domain.values import MeetingKind
from service.views import get_meeting, list_meetings

router = APIRouter(
    prefix="/meetings", tags=["meetings"], responses=PROBLEMS, route_class=GuardedRoute
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="会議の記録 (R-MTG-1..7)",
    dependencies=[Depends(permit("record_meeting"))],
)
def record_meeting(
    body: MeetingCreate, actor: CurrentActor, app: App, response: Response
) -> MeetingRecorded:
    """Record a held meeting with its participants, agenda and resource shortages."""
    data = body.model_dump(mode="json")
    kind = MeetingKind(data.pop("kind"))
    meeting = app.record_meeting(actor, kind, data.pop("agenda"), **data)
    response.headers["Location"] = f"/meetings/{meeting.id}"
    return MeetingRecorded(meeting_id=str(meeting.id), version=meeting.version)


@router.get("", summary="会議一覧", dependencies=[Depends(permit("list_meetings"))])
def meeting_list(
    actor: CurrentActor,
    app: App,
    kind: Annotated[str | None, Query(pattern=CODE_PATTERN, description="Filter by kind")] = None,
    held_from: Annotated[
        str | None, Query(pattern=DATE_PATTERN, description="Held on or after (YYYY-MM-DD)")
    ] = None,
    held_to: Annotated[
        str | None, Query(pattern=DATE_PATTERN, description="Held on or before (YYYY-MM-DD)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1, description="Offset")] = 0,
) -> MeetingPage:
    """List the municipality's meetings from the read model."""
    page = list_meetings(
        app.engine,
        actor,
        app.keys,
        kind=kind,
        held_from=held_from,
        held_to=held_to,
        limit=limit,
        offset=offset,
    )
    return MeetingPage.model_validate(page)


@router.get("/{meeting_id}", summary="会議の詳細", dependencies=[Depends(permit("read_meeting"))])
def meeting_detail(meeting_id: PathId, actor: CurrentActor, app: App) -> MeetingView:
    """Return one meeting."""
    return MeetingView.model_validate(get_meeting(app.engine, actor, meeting_id, app.keys))
