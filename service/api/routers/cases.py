"""Case commands (one endpoint per command) and case views."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response, status

from service.api.deps import App, CurrentActor, GuardedRoute, IfMatch, PathId, permit
from service.api.problems import PROBLEMS
from service.api.schemas.cases import (
    AssessmentCreate,
    CaseCreate,
    ClosureCreate,
    ConsentCreate,
    ConsentWithdrawal,
    ContactAttemptCreate,
    EarlyStartCreate,
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
from service.api.schemas.common import CommandAccepted
from service.application.kasane import CaseResult
from service.domain.workflow import state_label

router = APIRouter(prefix="/cases", tags=["cases"], responses=PROBLEMS, route_class=GuardedRoute)


def _accepted(result: CaseResult, response: Response) -> CommandAccepted:
    response.headers["ETag"] = f'"{result.version}"'
    return CommandAccepted(
        case_id=result.case_id,
        version=result.version,
        state=result.state,
        state_label=state_label(result.state),
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
    case_id: PathId,
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
    case_id: PathId,
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
    case_id: PathId,
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
    case_id: PathId,
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
    case_id: PathId,
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
    case_id: PathId,
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
    case_id: PathId,
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
    case_id: PathId,
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
    case_id: PathId,
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
    case_id: PathId,
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
    case_id: PathId,
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
    case_id: PathId,
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
    case_id: PathId,
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
    case_id: PathId,
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
    case_id: PathId,
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
    case_id: PathId,
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
    case_id: PathId,
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
    case_id: PathId,
    body: ResumptionCreate,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> CommandAccepted:
    """Resume a closed or suspended case."""
    result = app.resume_case(actor, case_id, _expected(if_match, body), **_data(body))
    return _accepted(result, response)
