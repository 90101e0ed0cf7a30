"""The ASGI application: routers, error handlers and the Kasane application instance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service import logs
from service.api import errors, idempotency, middleware
from service.api.routers import access_log, audit, case_reads, cases, meetings, workflow
from service.api.routers import community_issues as community_issue_routes
from service.api.routers import engagements as engagement_routes
from service.api.routers import feed as feed_routes
from service.api.routers import hosts as host_routes
from service.api.routers import reports as report_routes
from service.api.routers import webhooks as webhook_routes
from service.api.routers import worklists as worklist_routes
from service.application.kasane import Kasane
from service.clock import Clock
from service.integration.webhooks import background_dispatcher
from service.persistence.database import check_database, engine_options
from service.security.authenticator import start_authenticator
from service.settings import Settings, get_settings

DESCRIPTION = """
Kasane (重ね) runs each support case of the layered support programme (重層的支援体制整備事業)
through the workflow of the national notice: referral, consent, assessment, plan, the layered
support meeting (重層的支援会議) at the four timings, the municipality's support decision,
support, closure, suspension and resumption. Every change is an event; errors are RFC 9457
problem documents with a stable `code`.
"""


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The dispatcher thread runs only if KASANE_WEBHOOK_DISPATCH_INTERVAL_SECONDS > 0.
    with background_dispatcher(app.state.kasane.engine, app.state.settings):
        yield


def create_app(
    settings: Settings | None = None, *, check: bool = True, clock: Clock | None = None
) -> FastAPI:
    """Build the FastAPI app on the configured database, migrated to head.

    Raises `service.persistence.database.DatabaseNotReady` when the database is unreachable or
    not at this code's migration head (`check=False` skips that: only to render documents).
    `clock` tells the application what day it is (default: the system clock; tests pass a
    `service.clock.ManualClock` and move it).
    """
    config = settings or get_settings()
    logs.configure_logging()
    app = FastAPI(
        title="Kasane",
        version="0.1.0",
        summary="重層的支援体制整備事業のケースワークフロー",
        description=DESCRIPTION,
        lifespan=_lifespan,
    )
    app.state.settings = config
    app.state.kasane = Kasane(
        config.database_url, config.master_key, engine_options(config), clock=clock
    )
    if check:
        check_database(app.state.kasane.engine)
    app.state.authenticator = start_authenticator(config, app.state.kasane.engine)
    errors.install(app)
    idempotency.install(app, config)  # innermost: after the limits and the access log
    middleware.install(app, config)
    app.include_router(cases.router)
    app.include_router(case_reads.router)
    app.include_router(meetings.router)
    app.include_router(access_log.router)
    app.include_router(feed_routes.router)
    app.include_router(audit.router)
    app.include_router(webhook_routes.router)
    app.include_router(workflow.router)
    app.include_router(worklist_routes.router)
    app.include_router(host_routes.router)
    app.include_router(community_issue_routes.router)
    app.include_router(report_routes.router)
    app.include_router(engagement_routes.router)
    app.include_router(engagement_routes.lists)
    return app


def __getattr__(name: str) -> FastAPI:
    # `service.main:app` is built on first access, so importing this module has no side effects.
    if name == "app":
        globals()["app"] = built = create_app()
        return built
    raise AttributeError(name)
