"""Case commands (one endpoint per command) and case views."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import Field

from service.api.deps import App, CurrentActor, GuardedRoute, IfMatch, permit
from service.api.schemas.cases import (
    AssessmentCreate,
    CaseCreate,
    CaseDetail,
    CaseEvent,
    CasePage,
    ClosureCreate,
    ConsentCreate,
    ConsentWithdrawal,
    ContactAttemptCreate,
    EarlyStartCreate,
    ErasureCreate,
    ErasureDone,
    ExplanationCreate,
    MeetingReference,
    MonitoringCreate,
    PlanCreate,
    ReasonCommand,
    ResumptionCreate,
    ReturnToReferrer,
    SupportDecisionCreate,
    SuspensionCreate,
    VersionOnly,
)
from service.api.schemas.common import CommandAccepted, Problem
from service.application.kasane import CaseResult
from service.domain.labels import EVENT_LABELS
from service.domain.workflow import support_case_workflow
from service.views import case_history, get_case, list_cases
from service.views_history import case_as_of, history

_PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {**_PROBLEM, "description": "No, unknown, revoked or expired credential"},
    403: {**_PROBLEM, "description": "The role may not do this"},
    404: {**_PROBLEM, "description": "No such case in this municipality"},
    409: {**_PROBLEM, "description": "Refused by the workflow or a stale expected version"},
    412: {**_PROBLEM, "description": "If-Match names a stale version"},
    413: {**_PROBLEM, "description": "Request body over the size cap"},
    422: {**_PROBLEM, "description": "Malformed request or a rule not met"},
    429: {**_PROBLEM, "description": "Rate limit of the credential exceeded (Retry-After)"},
}

router = APIRouter(prefix="/cases", tags=["cases"], responses=PROBLEMS, route_class=GuardedRoute)


def _accepted(result: CaseResult, response: Response) -> CommandAccepted:
    response.headers["ETag"] = f'"{result.version}"'
    return CommandAccepted(
        case_id=result.case_id,
        version=result.version,
        state=result.state,
        state_label=support_case_workflow().state_labels[result.state],
        allowed_commands=list(result.allowed_commands),
        **result.extra,
    )


def _expected(if_match: int | None, body: Any) -> int | None:
    if if_match is not None or body is None:
        return if_match
    return body.expected_version


def _data(body: Any, *exclude: str) -> dict[str, Any]:
    data: dict[str, Any] = body.model_dump(mode="json", exclude={"expected_version", *exclude})
    return data


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="紹介受付: open a case (R-INT-1)",
    dependencies=[Depends(permit("refer_case"))],
)
def refer_case(
    body: CaseCreate, actor: CurrentActor, app: App, response: Response
) -> CommandAccepted:
    """Open a case from a referral or a direct consultation."""
    data = _data(body)
    result = app.refer_case(actor, data["referral"], data["person"], data["household"])
    response.headers["Location"] = f"/cases/{result.case_id}"
    return _accepted(result, response)


@router.post(
    "/{case_id}/explanations",
    summary="説明・同行の記録 (R-INT-3)",
    dependencies=[Depends(permit("record_explanation"))],
)
def record_explanation(
    case_id: str,
    body: ExplanationCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """Record an explanation of the service or an accompaniment."""
    result = app.record_explanation(actor, case_id, _expected(if_match, body), **_data(body))
    return _accepted(result, response)


@router.post(
    "/{case_id}/consents",
    summary="同意の記録 (R-INT-2, R-CON-1, R-CON-5)",
    dependencies=[Depends(permit("give_consent"))],
)
def give_consent(
    case_id: str,
    body: ConsentCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """Record one person's consent (application for use and/or sharing)."""
    result = app.give_consent(actor, case_id, _expected(if_match, body), _data(body))
    return _accepted(result, response)


@router.post(
    "/{case_id}/consent-withdrawals",
    summary="同意の撤回 (R-CON-3)",
    dependencies=[Depends(permit("withdraw_consent"))],
)
def withdraw_consent(
    case_id: str,
    body: ConsentWithdrawal,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """Withdraw a consent; without the application the case returns to the council track."""
    result = app.withdraw_consent(actor, case_id, _expected(if_match, body), **_data(body))
    return _accepted(result, response)


@router.post(
    "/{case_id}/assessment-start",
    summary="アセスメント開始 (R-INT-2)",
    dependencies=[Depends(permit("start_assessment"))],
)
def start_assessment(
    case_id: str,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
    body: VersionOnly | None = None,
) -> CommandAccepted:
    """Take the case for assessment; needs the person's application for use."""
    return _accepted(app.start_assessment(actor, case_id, _expected(if_match, body)), response)


@router.post(
    "/{case_id}/council-referral",
    summary="支援会議へ (R-CON-2)",
    dependencies=[Depends(permit("refer_to_council"))],
)
def refer_to_council(
    case_id: str,
    body: ReasonCommand,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """Put a case without consent on the support-council track."""
    result = app.refer_to_council(actor, case_id, _expected(if_match, body), body.reason)
    return _accepted(result, response)


@router.post(
    "/{case_id}/return-to-referrer",
    summary="紹介元へ戻す (R-INT-4)",
    dependencies=[Depends(permit("return_to_referrer"))],
)
def return_to_referrer(
    case_id: str,
    body: ReturnToReferrer,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """Return a case that needs no coordination, after consulting the referrer."""
    data = _data(body)
    result = app.return_to_referrer(actor, case_id, _expected(if_match, body), data["consultation"])
    return _accepted(result, response)


@router.post(
    "/{case_id}/early-starts",
    summary="早期支援開始の記録 (R-DEC-3)",
    dependencies=[Depends(permit("record_early_start"))],
)
def record_early_start(
    case_id: str,
    body: EarlyStartCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """Record outreach or participation support started before the plan."""
    result = app.record_early_start(actor, case_id, _expected(if_match, body), **_data(body))
    return _accepted(result, response)


@router.post(
    "/{case_id}/contact-attempts",
    summary="接触の記録 (R-SUS-2)",
    dependencies=[Depends(permit("record_contact_attempt"))],
)
def record_contact_attempt(
    case_id: str,
    body: ContactAttemptCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """Record an attempt to reach the person and whether contact was made."""
    result = app.record_contact_attempt(actor, case_id, _expected(if_match, body), _data(body))
    return _accepted(result, response)


@router.post(
    "/{case_id}/assessments",
    summary="アセスメント完了 (R-ASM-1, R-ASM-2)",
    dependencies=[Depends(permit("complete_assessment"))],
)
def complete_assessment(
    case_id: str,
    body: AssessmentCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """Record the intake-assessment sheet; the case moves to planning."""
    result = app.complete_assessment(actor, case_id, _expected(if_match, body), _data(body))
    return _accepted(result, response)


@router.post(
    "/{case_id}/plans",
    summary="プラン案の作成 (R-PLN-1)",
    dependencies=[Depends(permit("draft_plan"))],
)
def draft_plan(
    case_id: str,
    body: PlanCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """Write a new plan version for the meeting."""
    result = app.draft_plan(actor, case_id, _expected(if_match, body), _data(body))
    return _accepted(result, response)


@router.post(
    "/{case_id}/plan-approval",
    summary="プラン承認（A プラン策定時, R-MTG-5, R-PLN-2）",
    dependencies=[Depends(permit("approve_plan"))],
)
def approve_plan(
    case_id: str,
    body: MeetingReference,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """Adopt the draft plan approved at a layered support meeting (timing A)."""
    result = app.approve_plan(actor, case_id, _expected(if_match, body), body.meeting_id)
    return _accepted(result, response)


@router.post(
    "/{case_id}/replan-approval",
    summary="再プラン承認（B 再プラン策定時, R-MTG-5, R-PLN-3）",
    dependencies=[Depends(permit("approve_replan"))],
)
def approve_replan(
    case_id: str,
    body: MeetingReference,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """Adopt the re-plan approved at a layered support meeting (timing B)."""
    result = app.approve_plan(
        actor, case_id, _expected(if_match, body), body.meeting_id, replan=True
    )
    return _accepted(result, response)


@router.post(
    "/{case_id}/support-decisions",
    summary="支援決定 (R-DEC-1, R-DEC-2)",
    dependencies=[Depends(permit("decide_support"))],
)
def decide_support(
    case_id: str,
    body: SupportDecisionCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """The municipality decides on outreach / participation support in the plan."""
    result = app.decide_support(actor, case_id, _expected(if_match, body), **_data(body))
    return _accepted(result, response)


@router.post(
    "/{case_id}/monitoring",
    summary="モニタリングの記録 (R-SUP-1)",
    dependencies=[Depends(permit("record_monitoring"))],
)
def record_monitoring(
    case_id: str,
    body: MonitoringCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """Record monitoring of the plan and contact with the person."""
    result = app.record_monitoring(actor, case_id, _expected(if_match, body), _data(body))
    return _accepted(result, response)


@router.post(
    "/{case_id}/replan",
    summary="再プラン開始 (R-PLN-3)",
    dependencies=[Depends(permit("start_replan"))],
)
def start_replan(
    case_id: str,
    body: ReasonCommand,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """Start revising the plan."""
    result = app.start_replan(actor, case_id, _expected(if_match, body), body.reason)
    return _accepted(result, response)


@router.post(
    "/{case_id}/closure",
    summary="終結（C 支援終結の判断時, R-END-1..3）",
    dependencies=[Depends(permit("close_case"))],
)
def close_case(
    case_id: str,
    body: ClosureCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """Close the case at its closure meeting with a lead agency and follow-up."""
    result = app.close_case(
        actor, case_id, _expected(if_match, body), body.meeting_id, _data(body, "meeting_id")
    )
    return _accepted(result, response)


@router.post(
    "/{case_id}/suspension",
    summary="中断（D 支援中断の決定時, R-SUS-1, R-SUS-2）",
    dependencies=[Depends(permit("suspend_case"))],
)
def suspend_case(
    case_id: str,
    body: SuspensionCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """Suspend the case when contact is completely lost, at its suspension meeting."""
    result = app.suspend_case(
        actor, case_id, _expected(if_match, body), body.meeting_id, body.reason
    )
    return _accepted(result, response)


@router.post(
    "/{case_id}/resumption",
    summary="再開 (R-END-4, R-SUS-3)",
    dependencies=[Depends(permit("resume_case"))],
)
def resume_case(
    case_id: str,
    body: ResumptionCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """Resume a closed or suspended case."""
    result = app.resume_case(actor, case_id, _expected(if_match, body), **_data(body))
    return _accepted(result, response)


@router.get("", summary="ケース一覧", dependencies=[Depends(permit("list_cases"))])
def case_list(
    actor: CurrentActor,
    app: App,
    state: Annotated[str | None, Query(description="Filter by state")] = None,
    referrer_kind: Annotated[str | None, Query(description="Filter by referrer kind")] = None,
    lead_agency_id: Annotated[str | None, Query(description="Filter by lead agency")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size")] = 50,
    offset: Annotated[int, Query(ge=0, description="Offset")] = 0,
) -> CasePage:
    """List the municipality's cases from the read model."""
    page = list_cases(
        app.engine,
        actor,
        state=state,
        referrer_kind=referrer_kind,
        lead_agency_id=lead_agency_id,
        limit=limit,
        offset=offset,
    )
    return CasePage.model_validate(page)


@router.post(
    "/{case_id}/erasures",
    summary="個人情報の消去（暗号鍵の破棄）",
    dependencies=[Depends(permit("erase_personal_data"))],
)
def erase_personal_data(
    case_id: str, body: ErasureCreate, actor: CurrentActor, app: App
) -> ErasureDone:
    """Destroy a person's data key: the history stays, that person's fields read as erased."""
    erased = app.erase_person(actor, case_id, body.person_id, body.reason)
    return ErasureDone(case_id=case_id, person_id=body.person_id, erased=erased)


@router.get("/{case_id}", summary="ケース詳細", dependencies=[Depends(permit("read_case"))])
def case_detail(
    case_id: str,
    actor: CurrentActor,
    app: App,
    response: Response,
    as_of: Annotated[
        datetime | None,
        Query(description="RFC 3339 time with offset: the case as it stood then, replayed"),
    ] = None,
    as_of_version: Annotated[
        int | None, Query(ge=1, description="The case as it stood at this version, replayed")
    ] = None,
) -> CaseDetail:
    """Return the case detail from the read model (it reflects every acknowledged command).

    With `as_of` or `as_of_version` the case is rebuilt from its events up to that point and
    the answer carries `as_of`; personal data follows the consents in force now. A time before
    the referral answers 404 `not_found`, a version past the latest 404 `version_not_found`.
    """
    if as_of is not None or as_of_version is not None:
        past = case_as_of(app, actor, case_id, version=as_of_version, at=as_of)
        return CaseDetail.model_validate(past)  # no ETag: a past version is no precondition
    detail = get_case(app.engine, actor, case_id, app.keys)
    response.headers["ETag"] = f'"{detail["version"]}"'
    return CaseDetail.model_validate(detail)


@router.get(
    "/{case_id}/events", summary="イベント履歴", dependencies=[Depends(permit("read_case_events"))]
)
def case_events(case_id: str, actor: CurrentActor, app: App) -> list[CaseEvent]:
    """Return the raw history of the case, oldest first; personal fields as the caller may see."""
    events = app.case_events(actor, case_id)
    history = case_history(app.engine, actor, case_id, events, app.keys)
    return [CaseEvent(label=EVENT_LABELS.get(str(e["type"]), str(e["type"])), **e) for e in history]


# Kept beside its route: the shared schema modules belong to other work in progress.
class CaseHistoryEntry(CaseEvent):
    """One event of the case with its position in the municipality's ordered feed."""

    position: int | None = Field(description="Notification id of the event in the store")


@router.get(
    "/{case_id}/history",
    summary="監査用の履歴",
    dependencies=[Depends(permit("read_case_events"))],
)
def case_history_route(case_id: str, actor: CurrentActor, app: App) -> list[CaseHistoryEntry]:
    """Return every event with its feed position, version, type, Japanese label, time, actor
    and payload; personal fields as the caller may see them (each read logged)."""
    return [CaseHistoryEntry.model_validate(entry) for entry in history(app, actor, case_id)]
