"""Case views: the list, the detail (now or at a past point), the history; erasure."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from service.api.deps import App, CurrentActor, GuardedRoute, PathId, permit
from service.api.problems import PROBLEMS
from service.api.schemas.cases import (
    CaseDetail,
    CaseEvent,
    CaseHistoryEntry,
    CasePage,
    ErasureCreate,
    ErasureDone,
)
from service.api.schemas.common import CODE_PATTERN, ID_PATTERN
from service.domain.labels import EVENT_LABELS
from service.views import case_history, get_case, list_cases
from service.views_history import case_as_of, history

router = APIRouter(prefix="/cases", tags=["cases"], responses=PROBLEMS, route_class=GuardedRoute)


@router.get("", summary="ケース一覧", dependencies=[Depends(permit("list_cases"))])
def case_list(
    actor: CurrentActor,
    app: App,
    state: Annotated[str | None, Query(pattern=CODE_PATTERN, description="Filter by state")] = None,
    referrer_kind: Annotated[
        str | None, Query(pattern=CODE_PATTERN, description="Filter by referrer kind")
    ] = None,
    lead_agency_id: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="Filter by lead agency")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1, description="Offset")] = 0,
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
    case_id: PathId, body: ErasureCreate, actor: CurrentActor, app: App
) -> ErasureDone:
    """Destroy a person's data key: the history stays, that person's fields read as erased."""
    erased = app.erase_person(actor, case_id, body.person_id, body.reason)
    return ErasureDone(case_id=case_id, person_id=body.person_id, erased=erased)


@router.get("/{case_id}", summary="ケース詳細", dependencies=[Depends(permit("read_case"))])
def case_detail(
    case_id: PathId,
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
def case_events(case_id: PathId, actor: CurrentActor, app: App) -> list[CaseEvent]:
    """Return the raw history of the case, oldest first; personal fields as the caller may see."""
    events = app.case_events(actor, case_id)
    history = case_history(app.engine, actor, case_id, events, app.keys)
    return [CaseEvent(label=EVENT_LABELS.get(str(e["type"]), str(e["type"])), **e) for e in history]


@router.get(
    "/{case_id}/history",
    summary="監査用の履歴",
    dependencies=[Depends(permit("read_case_events"))],
)
def case_history_route(case_id: PathId, actor: CurrentActor, app: App) -> list[CaseHistoryEntry]:
    """Return every event with its feed position, version, type, Japanese label, time, actor
    and payload; personal fields as the caller may see them (each read logged)."""
    return [CaseHistoryEntry.model_validate(entry) for entry in history(app, actor, case_id)]
