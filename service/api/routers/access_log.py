"""The access log of personal data reads (R-CON-4), for the auditor and the municipality."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from service.api.deps import App, CurrentActor, GuardedRoute, permit
from service.api.problems import PROBLEMS
from service.api.schemas.common import ID_PATTERN
from service.views import access_log_page

router = APIRouter(
    prefix="/access-log", tags=["audit"], responses=PROBLEMS, route_class=GuardedRoute
)


class AccessRecord(BaseModel):
    """One read of one person's personal data."""

    id: int = Field(description="Position in the log")
    at: str = Field(description="When it was read")
    request_id: str = Field(description="Request that read it")
    agency_id: str = Field(description="Agency that read it")
    role: str = Field(description="Role of the reader")
    case_id: str = Field(description="Case")
    person_id: str = Field(description="Whose data (`person` or a household member)")
    fields: list[str] = Field(description="Fields returned")
    basis: str = Field(description="`consent:<id>` or `council:<meeting id>` (R-CON-4)")


class AccessPage(BaseModel):
    """A page of the access log."""

    items: list[AccessRecord] = Field(description="Reads, newest first")
    total: int = Field(description="Reads matching the filter")
    limit: int = Field(description="Page size")
    offset: int = Field(description="Offset of the page")


@router.get("", summary="個人情報の閲覧記録", dependencies=[Depends(permit("read_access_log"))])
def access_log(
    actor: CurrentActor,
    app: App,
    case_id: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="Only reads of this case")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1, description="Offset")] = 0,
) -> AccessPage:
    """List who read which person's data, on what basis."""
    page: dict[str, Any] = access_log_page(app.engine, actor, case_id, limit, offset)
    return AccessPage.model_validate(page)
