"""Tamper evidence of a case's stored history, for the auditor and the municipality."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from service.api.deps import App, CurrentActor, GuardedRoute, PathId, permit
from service.api.problems import PROBLEMS
from service.integration.verify import Kind, verify_case

router = APIRouter(prefix="/cases", tags=["audit"], responses=PROBLEMS, route_class=GuardedRoute)


class FindingPublic(BaseModel):
    """One break of the case's hash chain."""

    kind: Kind = Field(description="What happened to the stored history (a stable code)")
    version: int = Field(description="Case version where it was found")
    detail: str = Field(description="What exactly does not match")


class VerificationPublic(BaseModel):
    """The case's stored events checked against the hash chain written with them."""

    case_id: str = Field(description="Case")
    events: int = Field(description="Events stored for the case")
    ok: bool = Field(description="Whether the stored history is exactly what was written")
    findings: list[FindingPublic] = Field(description="Breaks of the chain, by version")


@router.get(
    "/{case_id}/verify",
    summary="改ざん検証: recompute the case's hash chain",
    dependencies=[Depends(permit("verify_case"))],
)
def verify(case_id: PathId, actor: CurrentActor, app: App) -> VerificationPublic:
    """Recompute each stored event's hash from the raw rows and report what does not match."""
    report = verify_case(app.engine, actor.municipality_id, case_id)
    return VerificationPublic(
        case_id=report.stream_id,
        events=report.events,
        ok=report.ok,
        findings=[
            FindingPublic(kind=f.kind, version=f.version, detail=f.detail) for f in report.findings
        ],
    )
