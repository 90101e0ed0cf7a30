"""The workflow definition as data, for integrators' screens, and a health check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from service.api.deps import GuardedRoute, public

# The only public routes: integrators read the workflow and probes check health without a
# credential. tests/e2e/test_permissions_walk.py pins this list.
router = APIRouter(tags=["workflow"], dependencies=[Depends(public)], route_class=GuardedRoute)


@router.get("/workflow", summary="ワークフロー定義")
def workflow_definition() -> dict[str, Any]:
    """Return the case workflow: states with labels and rules, transitions with guards."""
    from service.domain.workflow import support_case_workflow

    wf = support_case_workflow()
    return {
        "name": wf.name,
        "label": wf.label,
        "version": wf.version,
        "states": [
            {"id": s, "label": wf.state_labels[s], "rules": list(wf.state_rules[s])}
            for s in wf.states
        ],
        "transitions": [
            {
                "source": t.source,
                "command": t.event,
                "target": t.target,
                "label": t.label,
                "guards": [
                    {
                        "name": g,
                        "label": wf.guards[g].label,
                        "code": wf.guards[g].code,
                        "rules": list(wf.guards[g].rules),
                    }
                    for g in t.guards
                ],
            }
            for t in wf.transitions
        ],
    }


@router.get("/health", summary="稼働確認")
def health() -> dict[str, str]:
    """Answer ok when the service is up."""
    return {"status": "ok"}
