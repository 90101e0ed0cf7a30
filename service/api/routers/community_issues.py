"""Community issues: shortages of social resources found in cases (R-RES-1, R-MTG-3 C)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from service.api.deps import App, CurrentActor, GuardedRoute, IfMatch, PathId, permit
from service.api.problems import PROBLEMS
from service.api.schemas.common import CODE_PATTERN
from service.api.schemas.registers import IssueAccepted, IssuePage, IssueStatusChange, IssueView
from service.domain.community_issue import ISSUE_STATUS_LABELS

router = APIRouter(
    prefix="/community-issues",
    tags=["community issues"],
    responses=PROBLEMS,
    route_class=GuardedRoute,
)


@router.get(
    "", summary="地域課題一覧 (R-RES-1)", dependencies=[Depends(permit("list_community_issues"))]
)
def issue_list(
    actor: CurrentActor,
    app: App,
    status: Annotated[
        str | None,
        Query(
            pattern=CODE_PATTERN,
            description="Filter by status (open, in_development, resolved, closed)",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1, description="Offset")] = 0,
) -> IssuePage:
    """List the municipality's community issues, latest raised first; the raising cases are
    named only to readers who may read them, the others see counts."""
    page = app.list_community_issues(actor, status=status, limit=limit, offset=offset)
    return IssuePage.model_validate(page)


@router.get(
    "/{issue_id}",
    summary="地域課題の詳細 (R-RES-1)",
    dependencies=[Depends(permit("read_community_issue"))],
)
def issue_detail(issue_id: PathId, actor: CurrentActor, app: App) -> IssueView:
    """Return one community issue."""
    return IssueView.model_validate(app.community_issue_view(actor, issue_id))


@router.post(
    "/{issue_id}/status",
    summary="地域課題の状況の変更 (R-RES-1)",
    dependencies=[Depends(permit("change_community_issue_status"))],
)
def change_issue_status(
    issue_id: PathId,
    body: IssueStatusChange,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> IssueAccepted:
    """Move the issue along open → in_development → resolved / closed, with a note."""
    expected = if_match if if_match is not None else body.expected_version
    issue = app.change_community_issue_status(
        actor,
        issue_id,
        expected,
        status=str(body.status),
        note=body.note,
        changed_on=body.changed_on.isoformat(),
    )
    response.headers["ETag"] = f'"{issue.version}"'
    return IssueAccepted(
        issue_id=str(issue.id),
        version=issue.version,
        status=issue.status,
        status_label=ISSUE_STATUS_LABELS[issue.status],
    )
