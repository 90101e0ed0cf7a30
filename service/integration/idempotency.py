"""Idempotency-Key on commands: a retry gets the first answer back and writes nothing.

Follows the IETF Idempotency-Key draft. A key belongs to the authenticated municipality and
agency. The first request claims the key, then runs. Its response is stored once the command
has committed, which happens before the response starts. A retry with the same request gets
that response back. The same key with another request answers 422, and a retry while the
first still runs answers 409. A 5xx is never stored, because a retry may succeed: the claim is
released instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.database_errors import database_error_response
from service.api.deps import current_actor
from service.api.errors import Unauthenticated, problem
from service.domain.values import Actor
from service.persistence.tables import idempotency_keys as keys
from service.settings import Settings

logger = logging.getLogger("kasane")

HEADER = "Idempotency-Key"
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_KEPT_HEADERS = frozenset({"content-type", "etag", "location"})

Scope3 = tuple[str, str, str]  # (municipality_id, agency_id, key)


@dataclass(frozen=True)
class Stored:
    """A response kept for replay."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Claim:
    """What the store says about a key: ours to run, someone else's, or already answered."""

    state: Literal["claimed", "in_progress", "reused", "replay"]
    stored: Stored | None = None


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _pk(scope: Scope3) -> tuple[Any, ...]:
    municipality_id, agency_id, key = scope
    c = keys.c
    return (c.municipality_id == municipality_id, c.agency_id == agency_id, c.key == key)


def claim(engine: Engine, scope: Scope3, fingerprint: str, now: datetime, ttl: timedelta) -> Claim:
    """Claim the key for this request, or say why not (an expired key is claimed afresh)."""
    for _ in range(3):
        try:
            with engine.begin() as conn:
                row = conn.execute(select(keys).where(*_pk(scope))).one_or_none()
                if row is not None and datetime.fromisoformat(row.expires_at) <= now:
                    # Only the row we read: if another request replaced it, our insert fails.
                    conn.execute(
                        delete(keys).where(*_pk(scope), keys.c.expires_at == row.expires_at)
                    )
                    row = None
                if row is None:
                    municipality_id, agency_id, key = scope
                    conn.execute(
                        insert(keys).values(
                            municipality_id=municipality_id,
                            agency_id=agency_id,
                            key=key,
                            fingerprint=fingerprint,
                            created_at=_iso(now),
                            expires_at=_iso(now + ttl),
                        )
                    )
                    return Claim("claimed")
        except IntegrityError:
            continue  # claimed by a concurrent request between our read and insert: read again
        if row.fingerprint != fingerprint:
            return Claim("reused")
        if row.status_code is None:
            return Claim("in_progress")
        headers = [(k, v) for k, v in json.loads(row.response_headers or "[]")]
        return Claim("replay", Stored(row.status_code, headers, row.response_body.encode()))
    return Claim("in_progress")


def store(engine: Engine, scope: Scope3, fingerprint: str, response: Stored) -> None:
    """Keep the response of the request that holds the claim."""
    with engine.begin() as conn:
        conn.execute(
            update(keys)
            .where(*_pk(scope), keys.c.fingerprint == fingerprint, keys.c.status_code.is_(None))
            .values(
                status_code=response.status,
                response_body=response.body.decode(),
                response_headers=json.dumps(response.headers),
            )
        )


def release(engine: Engine, scope: Scope3, fingerprint: str) -> None:
    """Give the key up: the request failed and a retry should run again."""
    with engine.begin() as conn:
        conn.execute(
            delete(keys).where(
                *_pk(scope), keys.c.fingerprint == fingerprint, keys.c.status_code.is_(None)
            )
        )


def purge_expired(engine: Engine, now: datetime) -> int:
    """Delete the expired keys; return how many (for a periodic job)."""
    with engine.begin() as conn:
        return conn.execute(delete(keys).where(keys.c.expires_at <= _iso(now))).rowcount


def fingerprint_of(method: str, path: str, body: bytes, role: str = "") -> str:
    """SHA-256 of the acting role, the method, the path and the body bytes.

    The role is part of it so that another role of the same agency never gets a replay of a
    command it may not issue itself.
    """
    digest = hashlib.sha256(
        role.encode() + b"\x00" + method.encode() + b"\x00" + path.encode() + b"\x00"
    )
    digest.update(body)
    return digest.hexdigest()


def _authenticate(scope: Scope) -> Actor | None:
    """The acting party by the same rules as the routes (`deps.current_actor`), or None."""
    headers = Headers(scope=scope)
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    bearer = (
        HTTPAuthorizationCredentials(scheme=scheme, credentials=token)
        if scheme.lower() == "bearer" and token
        else None
    )
    try:
        return current_actor(
            bearer, headers.get("x-api-key") or None, scope["app"].state.authenticator
        )
    except Unauthenticated:
        return None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class Idempotency:
    """Pure ASGI middleware applying Idempotency-Key to POST, PUT, PATCH and DELETE."""

    def __init__(self, app: ASGIApp, ttl_hours: int) -> None:
        self.app = app
        self.ttl = timedelta(hours=ttl_hours)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request once per key; answer retries from the store."""
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._serve(scope, receive, tracked)
        except SQLAlchemyError as exc:  # the key's own queries: 503 by cause, as the routes do
            response = None if started else database_error_response(exc)
            if response is None:
                raise
            await response(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _UNSAFE:
            await self.app(scope, receive, send)
            return
        values = [v for k, v in scope["headers"] if k == b"idempotency-key"]
        actor = await run_in_threadpool(_authenticate, scope) if values else None
        if actor is None:  # no key, or no valid credential: the route answers as without a key
            await self.app(scope, receive, send)
            return
        key = values[0].decode("latin-1")
        if len(values) > 1 or not _VALID_KEY.fullmatch(key):
            await _refusal("invalid")(scope, receive, send)
            return
        body = await _read_body(receive)
        engine: Engine = scope["app"].state.kasane.engine
        owner = (actor.municipality_id, actor.agency_id, key)
        fingerprint = fingerprint_of(scope["method"], scope["path"], body, str(actor.role))
        found = await run_in_threadpool(
            claim, engine, owner, fingerprint, datetime.now(UTC), self.ttl
        )
        if found.state == "claimed":
            await self._run(scope, body, receive, send, engine, owner, fingerprint)
        elif found.stored is not None:
            await _send(send, found.stored, replayed=True)
        else:
            await _refusal(found.state)(scope, receive, send)

    async def _run(
        self,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
        engine: Engine,
        owner: Scope3,
        fingerprint: str,
    ) -> None:
        sent_body = False
        status = 500
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def replay_body() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in message["headers"]
                ]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        # On cancellation the claim stays (until it expires): the command may have committed.
        try:
            await self.app(scope, replay_body, capture)
        except Exception:
            await run_in_threadpool(release, engine, owner, fingerprint)
            raise
        response = Stored(status, headers, b"".join(chunks))
        if status >= 500:
            await run_in_threadpool(release, engine, owner, fingerprint)
        else:
            kept = Stored(
                status, [(k, v) for k, v in headers if k.lower() in _KEPT_HEADERS], response.body
            )
            try:
                await run_in_threadpool(store, engine, owner, fingerprint, kept)
            except (SQLAlchemyError, UnicodeDecodeError) as exc:
                # The command is done: answer it. The key stays claimed until it expires, so a
                # retry answers 409 rather than running the command twice.
                logger.error("idempotency: response not stored (%s)", type(exc).__name__)
        await _send(send, response, replayed=False)


_REFUSALS = {
    "invalid": (
        400,
        "invalid_idempotency_key",
        "Idempotency-Key が不正です",
        f"{HEADER} must be one value of 1 to 255 visible ASCII characters",
    ),
    "reused": (
        422,
        "idempotency_key_reused",
        "Idempotency-Key は別のリクエストに使われています",
        f"this {HEADER} was used for a different request; use a new key",
    ),
    "in_progress": (
        409,
        "idempotency_request_in_progress",
        "同じ Idempotency-Key のリクエストを処理中です",
        f"a request with this {HEADER} is still being processed; retry later",
    ),
}


def _refusal(kind: str) -> JSONResponse:
    response = problem(*_REFUSALS[kind])
    if kind == "in_progress":
        response.headers["Retry-After"] = "1"
    return response


async def _send(send: Send, response: Stored, *, replayed: bool) -> None:
    headers = [
        (k.encode("latin-1"), v.encode("latin-1"))
        for k, v in response.headers
        if k.lower() != "content-length"
    ]
    headers.append((b"content-length", str(len(response.body)).encode()))
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body, "more_body": False})


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware (innermost, so limits and the access log apply first) and document
    the header on every command of the OpenAPI document."""
    app.add_middleware(Idempotency, ttl_hours=settings.idempotency_ttl_hours)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            for operations in document.get("paths", {}).values():
                for method, operation in operations.items():
                    if method.upper() in _UNSAFE:
                        _document_header(operation)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _document_header(operation: dict[str, Any]) -> None:
    operation.setdefault("parameters", []).append(
        {
            "name": HEADER,
            "in": "header",
            "required": False,
            "description": (
                "Makes a retry safe: the same key with the same request answers the first "
                "response and writes nothing; with another request 422 "
                "`idempotency_key_reused`; while the first runs 409 "
                "`idempotency_request_in_progress`. Scoped to your municipality and agency."
            ),
            "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
        }
    )
    operation.setdefault("responses", {}).setdefault(
        "400",
        {
            "description": "Malformed Idempotency-Key (`invalid_idempotency_key`)",
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        },
    )
