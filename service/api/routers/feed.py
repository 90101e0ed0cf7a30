"""The municipality's ordered event feed for case systems (CloudEvents 1.0, resumable)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from service.api.deps import App, CurrentActor, GuardedRoute, permit, settings
from service.api.problems import PROBLEMS
from service.integration.feed import feed_page
from service.settings import Settings

router = APIRouter(
    prefix="/events", tags=["integration"], responses=PROBLEMS, route_class=GuardedRoute
)


class CloudEvent(BaseModel):
    """One stored event as a CloudEvents 1.0 envelope (JSON format), without personal data."""

    specversion: Literal["1.0"] = Field(description="CloudEvents version")
    id: str = Field(description="`<aggregate id>:<version>`: stable, unique within the source")
    source: str = Field(
        description="`/municipalities/<municipality>/cases` or `/municipalities/<m>/meetings`"
    )
    type: str = Field(description="`jp.kasane.<EventType>`, e.g. `jp.kasane.CaseReferred`")
    subject: str = Field(description="The case id or meeting id")
    time: str = Field(description="When the event was recorded (RFC 3339, UTC)")
    datacontenttype: Literal["application/json"] = Field(description="Media type of `data`")
    sequence: str = Field(
        description="Feed position zero-padded to 20 digits (orders as a string and a number)"
    )
    data: dict[str, Any] = Field(
        description=(
            "The event's payload with its `actor`; the person's and household's data and the "
            "assessment narrative are left out (read them through GET /cases/{case_id})"
        )
    )


class FeedPage(BaseModel):
    """A page of the feed; pass `next_after` as `after` to resume."""

    items: list[CloudEvent] = Field(description="Events in commit order")
    next_after: int = Field(
        description="Position of the last item, or the `after` given; a page may hold fewer "
        "than `limit` items when they pass the byte budget (KASANE_FEED_PAGE_MAX_BYTES)"
    )


@router.get(
    "",
    summary="イベントフィード: the municipality's events in commit order",
    dependencies=[Depends(permit("read_feed"))],
)
def event_feed(
    actor: CurrentActor,
    app: App,
    config: Annotated[Settings, Depends(settings)],
    after: Annotated[
        int, Query(ge=0, le=2**63 - 1, description="Position already read (0: from the start)")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="Most events to return")] = 100,
) -> FeedPage:
    """Return the events after `after`; positions only grow and are never reused."""
    page = feed_page(app.engine, app.mapper, actor, after, limit, config.feed_page_max_bytes)
    return FeedPage.model_validate(page)
