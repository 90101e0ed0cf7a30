"""Outreach and participation support: one endpoint per command, and the engagement views.

The service is a literal path segment (`/cases/{case_id}/engagements/outreach/...`), so each
route is permitted by its service's own action (`outreach.record_activity`, …, R-ORG-1).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status

from service.api.deps import App, CurrentActor, GuardedRoute, IfMatch, PathId, permit
from service.api.problems import PROBLEMS
from service.api.schemas.common import CODE_PATTERN
from service.api.schemas.engagements import (
    CostPaymentCreate,
    EngagementAccepted,
    EngagementAssessmentCreate,
    EngagementClosureCreate,
    EngagementEvent,
    EngagementIntakeCreate,
    EngagementMeetingReference,
    EngagementPage,
    EngagementPlanCreate,
    EngagementResumptionCreate,
    EngagementStart,
    EngagementSuspensionCreate,
    EngagementView,
    FollowUpCreate,
    HostMatchCreate,
    OutreachActivityCreate,
    PeriodicContactCreate,
    SettlingInCreate,
)
from service.application.engagements import EngagementResult
from service.domain.engagement import SERVICE_LABELS
from service.views_engagements import (
    case_engagements,
    engagement_history,
    get_engagement,
    list_engagements,
)

router = APIRouter(
    prefix="/cases/{case_id}/engagements",
    tags=["engagements"],
    responses=PROBLEMS,
    route_class=GuardedRoute,
)
lists = APIRouter(
    prefix="/engagements", tags=["engagements"], responses=PROBLEMS, route_class=GuardedRoute
)


def _accepted(result: EngagementResult, response: Response) -> EngagementAccepted:
    response.headers["ETag"] = f'"{result.version}"'
    return EngagementAccepted(
        case_id=result.case_id,
        service=result.service,
        engagement_id=result.engagement_id,
        version=result.version,
        state=result.state,
        state_label=result.state_label,
        allowed_commands=list(result.allowed_commands),
        **result.extra,
    )


def _expected(if_match: int | None, body: Any) -> int | None:
    return if_match if if_match is not None else body.expected_version


def _data(body: Any) -> dict[str, Any]:
    data: dict[str, Any] = body.model_dump(mode="json", exclude={"expected_version"})
    return data


# --- the commands both services have ---------------------------------------------------------


def _common_routes(service: str) -> None:
    label = SERVICE_LABELS[service]
    base = f"/{service}"

    @router.post(
        f"{base}/start",
        name=f"start_{service}",
        status_code=status.HTTP_201_CREATED,
        summary=f"{label}の開始 (R-PAR-1, R-DEC-3)",
        dependencies=[Depends(permit(f"{service}.start"))],
    )
    def start(
        case_id: PathId, body: EngagementStart, actor: CurrentActor, app: App, response: Response
    ) -> EngagementAccepted:
        """Start after the support decision, or early with a reason (also recorded on the case)."""
        result = app.start_engagement(actor, case_id, service, **_data(body))
        response.headers["Location"] = f"/cases/{result.case_id}/engagements/{service}"
        return _accepted(result, response)

    @router.post(
        f"{base}/plans",
        name=f"draft_{service}_plan",
        summary=f"{label}のプラン案 (R-OUT-4, R-PAR-2)",
        dependencies=[Depends(permit(f"{service}.draft_plan"))],
    )
    def draft_plan(
        case_id: PathId,
        body: EngagementPlanCreate,
        actor: CurrentActor,
        app: App,
        if_match: IfMatch,
        response: Response,
    ) -> EngagementAccepted:
        """Write a plan version of the service; from support on, a re-plan."""
        ev = _expected(if_match, body)
        result = app.draft_engagement_plan(actor, case_id, service, ev, _data(body))
        return _accepted(result, response)

    for replan in (False, True):
        _approval_route(service, replan)

    @router.post(
        f"{base}/closure",
        name=f"close_{service}",
        summary=f"{label}の終結（C 支援終結の判断時）",
        dependencies=[Depends(permit(f"{service}.close_engagement"))],
    )
    def close(
        case_id: PathId,
        body: EngagementClosureCreate,
        actor: CurrentActor,
        app: App,
        if_match: IfMatch,
        response: Response,
    ) -> EngagementAccepted:
        """Close at a closure meeting; participation needs a stable connection (R-PAR-4)."""
        data = _data(body)
        meeting_id = data.pop("meeting_id")
        ev = _expected(if_match, body)
        result = app.close_engagement(actor, case_id, service, ev, meeting_id, data)
        return _accepted(result, response)

    @router.post(
        f"{base}/suspension",
        name=f"suspend_{service}",
        summary=f"{label}の中断（D 支援中断の決定時）",
        dependencies=[Depends(permit(f"{service}.suspend_engagement"))],
    )
    def suspend(
        case_id: PathId,
        body: EngagementSuspensionCreate,
        actor: CurrentActor,
        app: App,
        if_match: IfMatch,
        response: Response,
    ) -> EngagementAccepted:
        """Suspend at a suspension meeting after recorded attempts (R-SUS-1, R-SUS-2)."""
        ev = _expected(if_match, body)
        result = app.suspend_engagement(actor, case_id, service, ev, body.meeting_id, body.reason)
        return _accepted(result, response)

    @router.post(
        f"{base}/resumption",
        name=f"resume_{service}",
        summary=f"{label}の再開 (R-SUS-3)",
        dependencies=[Depends(permit(f"{service}.resume_engagement"))],
    )
    def resume(
        case_id: PathId,
        body: EngagementResumptionCreate,
        actor: CurrentActor,
        app: App,
        if_match: IfMatch,
        response: Response,
    ) -> EngagementAccepted:
        """Resume after closure, or after suspension once contact is restored."""
        ev = _expected(if_match, body)
        result = app.resume_engagement(actor, case_id, service, ev, **_data(body))
        return _accepted(result, response)

    @router.get(
        base,
        name=f"read_{service}",
        summary=f"{label}の詳細",
        dependencies=[Depends(permit("read_engagement"))],
    )
    def read(case_id: PathId, actor: CurrentActor, app: App, response: Response) -> EngagementView:
        """Return the case's engagement; notes redacted without a basis for the person."""
        detail = get_engagement(app.engine, actor, case_id, service, app.keys)
        response.headers["ETag"] = f'"{detail["version"]}"'
        return EngagementView.model_validate(detail)

    @router.get(
        f"{base}/events",
        name=f"{service}_events",
        summary=f"{label}のイベント履歴",
        dependencies=[Depends(permit("read_engagement"))],
    )
    def events(case_id: PathId, actor: CurrentActor, app: App) -> list[EngagementEvent]:
        """Return the engagement's events, oldest first; notes redacted without a basis."""
        stored = app.engagement_events(actor, case_id, service)
        history = engagement_history(app.engine, actor, case_id, service, stored, app.keys)
        return [EngagementEvent.model_validate(e) for e in history]


def _approval_route(service: str, replan: bool) -> None:
    label = SERVICE_LABELS[service]
    command = "approve_replan" if replan else "approve_plan"
    timing = "B 再プラン策定時" if replan else "A プラン策定時"

    @router.post(
        f"/{service}/{'replan' if replan else 'plan'}-approval",
        name=f"{command}_{service}",
        summary=f"{label}のプラン承認（{timing}）",
        dependencies=[Depends(permit(f"{service}.{command}"))],
    )
    def approve(
        case_id: PathId,
        body: EngagementMeetingReference,
        actor: CurrentActor,
        app: App,
        if_match: IfMatch,
        response: Response,
    ) -> EngagementAccepted:
        """Adopt the draft plan at the meeting whose agenda item for this service approved it."""
        ev = _expected(if_match, body)
        result = app.approve_engagement_plan(
            actor, case_id, service, ev, body.meeting_id, replan=replan
        )
        return _accepted(result, response)


for _service in SERVICE_LABELS:
    _common_routes(_service)


# --- outreach only ----------------------------------------------------------------------------


@router.post(
    "/outreach/activities",
    summary="アウトリーチ活動の記録 (R-OUT-2, R-OUT-3, R-SUS-2)",
    dependencies=[Depends(permit("outreach.record_activity"))],
)
def record_outreach_activity(
    case_id: PathId,
    body: OutreachActivityCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> EngagementAccepted:
    """Record an activity; before consent notes are refused (`record_exceeds_council_track`)."""
    result = app.record_outreach_activity(actor, case_id, _expected(if_match, body), _data(body))
    return _accepted(result, response)


# --- participation only -----------------------------------------------------------------------


@router.post(
    "/participation/intake",
    summary="参加支援のインテーク (R-PAR-2)",
    dependencies=[Depends(permit("participation.record_intake"))],
)
def record_participation_intake(
    case_id: PathId,
    body: EngagementIntakeCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> EngagementAccepted:
    """Record the provider's intake."""
    result = app.record_engagement_intake(actor, case_id, _expected(if_match, body), _data(body))
    return _accepted(result, response)


@router.post(
    "/participation/assessments",
    summary="参加支援のアセスメント (R-PAR-2)",
    dependencies=[Depends(permit("participation.assess"))],
)
def assess_participation(
    case_id: PathId,
    body: EngagementAssessmentCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> EngagementAccepted:
    """Record the provider's assessment; needs the intake."""
    result = app.assess_engagement(actor, case_id, _expected(if_match, body), _data(body))
    return _accepted(result, response)


@router.post(
    "/participation/matches",
    summary="受け入れ先とのマッチング (R-PAR-3)",
    dependencies=[Depends(permit("participation.match_host"))],
)
def match_host(
    case_id: PathId,
    body: HostMatchCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> EngagementAccepted:
    """Match the person to an active host of the register (`host_not_registered` otherwise)."""
    result = app.match_host(actor, case_id, _expected(if_match, body), _data(body))
    return _accepted(result, response)


@router.post(
    "/participation/settling-in",
    summary="定着支援の記録 (R-PAR-3)",
    dependencies=[Depends(permit("participation.record_settling_in"))],
)
def record_settling_in(
    case_id: PathId,
    body: SettlingInCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> EngagementAccepted:
    """Record settling-in support for the person or the host."""
    result = app.record_settling_in(actor, case_id, _expected(if_match, body), _data(body))
    return _accepted(result, response)


@router.post(
    "/participation/follow-ups",
    summary="フォローアップの記録（本人・受け入れ先） (R-PAR-3)",
    dependencies=[Depends(permit("participation.record_follow_up"))],
)
def record_follow_up(
    case_id: PathId,
    body: FollowUpCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> EngagementAccepted:
    """Record a follow-up; `connection_stable` records the state of the connection (R-PAR-4)."""
    result = app.record_follow_up(actor, case_id, _expected(if_match, body), _data(body))
    return _accepted(result, response)


@router.post(
    "/participation/payments",
    summary="受け入れ先への実費の支払 (R-PAR-3)",
    dependencies=[Depends(permit("participation.pay_cost"))],
)
def pay_host_cost(
    case_id: PathId,
    body: CostPaymentCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> EngagementAccepted:
    """Record an actual-cost payment to a host the person was matched to."""
    result = app.pay_host_cost(actor, case_id, _expected(if_match, body), _data(body))
    return _accepted(result, response)


@router.post(
    "/participation/periodic-contacts",
    summary="終結後の定期的な連絡 (R-PAR-4)",
    dependencies=[Depends(permit("participation.record_periodic_contact"))],
)
def record_periodic_contact(
    case_id: PathId,
    body: PeriodicContactCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> EngagementAccepted:
    """Record periodic contact after closure with the next contact's date."""
    result = app.record_periodic_contact(actor, case_id, _expected(if_match, body), _data(body))
    return _accepted(result, response)


# --- views ------------------------------------------------------------------------------------


@router.get(
    "",
    summary="ケースのアウトリーチ等・参加支援",
    dependencies=[Depends(permit("read_engagement"))],
)
def case_engagement_list(case_id: PathId, actor: CurrentActor, app: App) -> list[EngagementView]:
    """Return the case's engagements; notes redacted without a basis for the person."""
    return [
        EngagementView.model_validate(d)
        for d in case_engagements(app.engine, actor, case_id, app.keys)
    ]


@lists.get(
    "", summary="アウトリーチ等・参加支援の一覧", dependencies=[Depends(permit("list_engagements"))]
)
def engagement_list(
    actor: CurrentActor,
    app: App,
    service: Annotated[
        str | None, Query(pattern=CODE_PATTERN, description="outreach or participation")
    ] = None,
    state: Annotated[str | None, Query(pattern=CODE_PATTERN, description="Filter by state")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1, description="Offset")] = 0,
) -> EngagementPage:
    """List the municipality's engagements from the read model (workflow facts only)."""
    page = list_engagements(
        app.engine, actor, service=service, state=state, limit=limit, offset=offset
    )
    return EngagementPage.model_validate(page)
