"""The state report (R-RPT-1): counts of a period, as JSON or as CSV with Japanese headers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response

from service.api.deps import App, CurrentActor, GuardedRoute, permit
from service.api.problems import PROBLEMS
from service.api.schemas.common import BusinessDate
from service.api.schemas.registers import StateReport
from service.reports.state_report import as_csv, flat_figures

router = APIRouter(
    prefix="/reports", tags=["reports"], responses=PROBLEMS, route_class=GuardedRoute
)

_CSV = "text/csv"


@router.get(
    "/state",
    summary="国への報告の集計 (R-RPT-1)",
    dependencies=[Depends(permit("read_state_report"))],
    response_model=StateReport,
    responses={
        200: {
            "description": "The report (JSON), or with `Accept: text/csv` or `format=csv` a CSV "
            "file (UTF-8 with BOM) with one row of Japanese headers and one row of figures",
            "content": {_CSV: {"schema": {"type": "string"}}},
        }
    },
)
def state_report(
    actor: CurrentActor,
    app: App,
    period_from: Annotated[
        BusinessDate | None,
        Query(alias="from", description="First day (default: the first day of this month)"),
    ] = None,
    period_to: Annotated[
        BusinessDate | None,
        Query(alias="to", description="Last day, inclusive (default: today)"),
    ] = None,
    format: Annotated[
        Literal["json", "csv"] | None, Query(description="json or csv (else by Accept)")
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    """Count the municipality's referrals, consents, plans, meetings, decisions, closures,
    suspensions, resumptions, open cases, outreach and participation cases, hosts and community
    issues for the period, from the stored events (a past period always gives the same figures).
    """
    today = app.clock.today()
    start = period_from or today.replace(day=1)
    end = period_to or today
    report = app.read_state_report(actor, start, end)
    wants_csv = format == "csv" or (format is None and _CSV in (accept or ""))
    if not wants_csv:
        return report
    body = "\ufeff" + as_csv(actor.municipality_id, start, end, flat_figures(report))
    filename = f"state-report-{actor.municipality_id}-{start}-{end}.csv"
    return Response(
        content=body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
