"""The workflow definition as data, for integrators' screens; liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from service.api.database_errors import NOT_MIGRATED, UNAVAILABLE, database_error_response
from service.api.deps import GuardedRoute, public
from service.persistence.database import DatabaseNotReady, check_migrated, check_writable

# The only public routes: integrators read the workflow and probes check liveness and
# readiness without a credential. tests/e2e/test_permissions_walk.py pins this list.
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


_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


@router.get(
    "/ready",
    summary="準備完了確認",
    response_model=dict[str, str],
    responses={503: {"description": "The database cannot serve commands now", **_PROBLEM}},
)
def ready(request: Request) -> dict[str, str] | Response:
    """Answer ready when the database is reachable, at this code's migration head and writable.

    `/health` says the process is up (liveness: restart it if not); `/ready` says it can serve
    (readiness: send it traffic). Otherwise 503 with the failure's `code` and `Retry-After`.
    """
    engine: Engine = request.app.state.kasane.engine
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        check_migrated(engine)
        # No longer than a command would wait for the lock, and at most a second.
        check_writable(engine, min(1_000, request.app.state.settings.db_sqlite_busy_timeout_ms))
    except DatabaseNotReady as exc:
        return NOT_MIGRATED.answer(exc)
    except SQLAlchemyError as exc:
        return database_error_response(exc) or UNAVAILABLE.answer(exc)
    return {"status": "ready", "database": engine.dialect.name}
