"""Every error as RFC 9457 problem+json with a stable code, mapped in one place."""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.persistence import DataError as StoreDataError
from eventsourcing.persistence import PersistenceError as StorePersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError as SQLAlchemyDataError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.domain.errors import (
    CommandNotAllowed,
    DomainError,
    GateRefused,
    NotFound,
    RoleNotPermitted,
    RuleViolation,
    VersionConflict,
)
from service.request_context import request_id

PROBLEM = "application/problem+json"
logger = logging.getLogger("kasane")
_TYPE_BASE = "https://kasane.example/problems/"


class Unauthenticated(Exception):
    """No or unknown credential."""


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """Return a problem+json response."""
    body = {"type": _TYPE_BASE + code, "title": title, "status": status, "detail": detail}
    body["code"] = code
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"WWW-Authenticate": 'Bearer, ApiKey header="X-API-Key"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _status(exc: DomainError, request: Request) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, RoleNotPermitted):
        return 403
    if isinstance(exc, VersionConflict):
        return 412 if request.headers.get("if-match") else 409
    if isinstance(exc, (CommandNotAllowed, GateRefused)):
        return 409
    if isinstance(exc, RuleViolation):
        return 422
    return 422


def install(app: FastAPI) -> None:
    """Register the handlers that turn errors into problem documents."""
    # Imported here, not above: database_errors answers with `problem` from this module.
    from service.api.database_errors import database_error_response

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return problem(
            _status(exc, request),
            exc.code,
            exc.title,
            exc.message,
            rules=list(exc.rules) or None,
            # A workflow refusal always says what is allowed now, even when nothing is.
            allowed_commands=list(exc.allowed_commands)
            if isinstance(exc, (CommandNotAllowed, GateRefused))
            else None,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Never the input itself: it may be personal data (or megabytes of it).
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        # Named in `detail` too, shortened: a refused unknown field's name is the client's text.
        fields = list(dict.fromkeys(".".join(str(p) for p in e["loc"])[:120] for e in errors))
        return problem(
            422,
            "validation_failed",
            "入力内容に誤りがあります",
            "the request is malformed" + (f": {', '.join(fields[:10])}" if fields else ""),
            errors=errors,
        )

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(request: Request, exc: Unauthenticated) -> JSONResponse:
        return problem(
            401, "unauthenticated", "認証が必要です", "a valid bearer token or API key is required"
        )

    @app.exception_handler(StorePersistenceError)
    @app.exception_handler(SQLAlchemyError)
    async def database_failure(request: Request, exc: Exception) -> Response:
        # A lost connection, a lock wait, a statement timeout or a full disk: the transaction
        # rolled back, nothing was saved; 503 with Retry-After, classified by cause. Other
        # database errors (a refused value, a conflict, a bug) keep their own answers.
        if (response := database_error_response(exc)) is not None:
            return response
        if isinstance(exc, StoreDataError | SQLAlchemyDataError):
            return invalid_data(request, exc)
        return unexpected(request, exc)

    def invalid_data(request: Request, exc: Exception) -> JSONResponse:
        # A value the database refuses (too long for its column, a NUL, out of range) that got
        # past the schemas: the client's input, not a fault of ours; answered as malformed.
        route = getattr(request.scope.get("route"), "path", None)
        logger.warning("database refused a value: %s on %s", type(exc).__name__, route)
        return problem(
            422, "invalid_data", "入力内容に誤りがあります", "a value is not valid for storage"
        )

    @app.exception_handler(UnicodeEncodeError)
    async def unencodable(request: Request, exc: UnicodeEncodeError) -> JSONResponse:
        # A lone surrogate in a JSON string cannot be stored as UTF-8: malformed input.
        return problem(
            422, "validation_failed", "入力内容に誤りがあります", "a string is not valid Unicode"
        )

    @app.exception_handler(Exception)
    async def unhandled(request: Request, exc: Exception) -> Response:
        # A database failure raised outside the routes (a middleware's own query) still is one.
        return database_error_response(exc) or unexpected(request, exc)

    def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The exception text may hold personal data: only its type is logged, never returned.
        route = getattr(request.scope.get("route"), "path", None)  # a template, never values
        logger.error("unhandled %s on %s %s", type(exc).__name__, request.method, route)
        response = problem(500, "internal_error", "内部エラーが発生しました", "an unexpected error")
        # Sent from outside the request-id middleware: carry the id for the caller's report.
        response.headers["X-Request-ID"] = request_id.get()
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem(exc.status_code, code, "リクエストを処理できません", str(exc.detail))
