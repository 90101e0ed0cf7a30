"""Idempotency-Key on commands: a retry gets the first answer back and writes nothing.

Follows the IETF Idempotency-Key draft. A key belongs to the authenticated municipality and
agency. Only a whole request runs: a body cut off (disconnect, fewer bytes than Content-Length)
is never executed nor bound to its key.

The first request takes the key with a lease of `idempotency_lease_seconds`, owned by it. The
command writes its outcome into the key's row in the same transaction as its events, and only
while it still owns the key (service/application/idempotent.py): so the key is answered if and
only if the command is stored. The rendered answer is then kept with it and replayed to retries;
a retry that finds the outcome without the answer (the process died in between) renders the
same answer again from the outcome. A retry while the owner's lease runs answers 409; once the
lease has expired without a commit (its owner died), the retry takes the key over and runs. The
same key with another request answers 422. A refusal (4xx) wrote nothing and is kept as the
answer; a 5xx is never kept, because a retry may succeed: the lease is released instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.database_errors import database_error_response
from service.api.deps import current_actor
from service.api.errors import Unauthenticated, problem
from service.application.idempotent import KeyedCommand, LeaseLost, current, iso
from service.domain.values import Actor
from service.persistence.tables import idempotency_keys as keys
from service.settings import Settings

logger = logging.getLogger("kasane")

HEADER = "Idempotency-Key"
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_KEPT_HEADERS = frozenset({"content-type", "etag", "location"})
_PURGE_EVERY = 3600.0  # seconds between two opportunistic purges of one process

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

    state: Literal["claimed", "in_progress", "reused", "replay", "rebuild"]
    stored: Stored | None = None
    outcome: dict[str, Any] | None = None


def _pk(scope: Scope3) -> tuple[Any, ...]:
    municipality_id, agency_id, key = scope
    c = keys.c
    return (c.municipality_id == municipality_id, c.agency_id == agency_id, c.key == key)


def claim(
    engine: Engine,
    scope: Scope3,
    fingerprint: str,
    owner: str,
    now: datetime,
    ttl: timedelta,
    lease: timedelta,
) -> Claim:
    """Take the key for this request (owner), or say why not.

    An expired key is taken afresh; a lease whose owner did not commit before it expired is
    taken over. Each step is conditional on the row read, so of two racing requests one wins.
    """
    for _ in range(5):
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
                            created_at=iso(now),
                            expires_at=iso(now + ttl),
                            owner=owner,
                            lease_expires_at=iso(now + lease),
                        )
                    )
                    return Claim("claimed")
                if row.fingerprint != fingerprint:
                    return Claim("reused")
                if row.status_code is not None:
                    headers = [(k, v) for k, v in json.loads(row.response_headers or "[]")]
                    stored = Stored(row.status_code, headers, row.response_body.encode())
                    return Claim("replay", stored)
                if row.outcome is not None:
                    return Claim("rebuild", outcome=json.loads(row.outcome))
                if row.lease_expires_at and datetime.fromisoformat(row.lease_expires_at) > now:
                    return Claim("in_progress")
                taken = conn.execute(
                    update(keys)
                    .where(
                        *_pk(scope),
                        keys.c.owner == row.owner if row.owner else keys.c.owner.is_(None),
                        keys.c.outcome.is_(None),
                        keys.c.status_code.is_(None),
                    )
                    .values(owner=owner, lease_expires_at=iso(now + lease))
                )
                if taken.rowcount == 1:
                    return Claim("claimed")
        except IntegrityError:
            continue  # claimed by a concurrent request between our read and insert: read again
    return Claim("in_progress")


def store(engine: Engine, keyed: KeyedCommand, response: Stored) -> None:
    """Keep the answer of the request that owns the key (or that rendered its outcome again)."""
    with engine.begin() as conn:
        conn.execute(
            update(keys)
            .where(*keyed.where(), keys.c.status_code.is_(None))
            .values(
                status_code=response.status,
                response_body=response.body.decode(),
                response_headers=json.dumps(response.headers),
                lease_expires_at=None,
            )
        )


def release(engine: Engine, keyed: KeyedCommand) -> None:
    """Give the key up: the request failed without committing and a retry should run again."""
    with engine.begin() as conn:
        conn.execute(
            delete(keys).where(
                *keyed.where(), keys.c.outcome.is_(None), keys.c.status_code.is_(None)
            )
        )


def purge_expired(engine: Engine, now: datetime) -> int:
    """Delete the expired keys and the leases whose owner is gone without committing; return
    how many (`kasane idempotency purge`, and each process now and then)."""
    stamp = iso(now)
    dead_lease = (
        keys.c.outcome.is_(None)
        & keys.c.status_code.is_(None)
        & (keys.c.lease_expires_at.is_(None) | (keys.c.lease_expires_at <= stamp))
    )
    with engine.begin() as conn:
        return conn.execute(
            delete(keys).where(or_(keys.c.expires_at <= stamp, dead_lease))
        ).rowcount


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


async def _read_body(scope: Scope, receive: Receive) -> bytes | None:
    """The whole body, or None if it did not arrive complete (disconnect, short read)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None  # http.disconnect before the last chunk
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    declared = Headers(scope=scope).get("content-length", "")
    if declared.isdigit() and int(declared) != len(body):
        return None
    return body


class Idempotency:
    """Pure ASGI middleware applying Idempotency-Key to POST, PUT, PATCH and DELETE."""

    def __init__(self, app: ASGIApp, ttl_hours: int, lease_seconds: float = 10.0) -> None:
        self.app = app
        self.ttl = timedelta(hours=ttl_hours)
        self.lease = timedelta(seconds=lease_seconds)
        self._purged = time.monotonic()

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
        body = await _read_body(scope, receive)
        if body is None:
            # Never run, never bound to the key: the client that cut it off retries it whole.
            logger.info("idempotency: incomplete body not run")
            await _refusal("incomplete")(scope, receive, send)
            return
        engine: Engine = scope["app"].state.kasane.engine
        lease_owner = str(uuid.uuid4())
        keyed = KeyedCommand(actor.municipality_id, actor.agency_id, key, lease_owner)
        owner = (actor.municipality_id, actor.agency_id, key)
        fingerprint = fingerprint_of(scope["method"], scope["path"], body, str(actor.role))
        now = datetime.now(UTC)
        found = await run_in_threadpool(
            claim, engine, owner, fingerprint, lease_owner, now, self.ttl, self.lease
        )
        if found.state == "claimed":
            await self._run(scope, body, receive, send, engine, keyed)
        elif found.state == "rebuild":
            # Committed, answer not kept: render it again from the outcome, under no owner.
            keyed.owner = None
            keyed.replay = found.outcome
            await self._run(scope, body, receive, send, engine, keyed)
        elif found.stored is not None:
            await _send(send, found.stored, replayed=True)
        else:
            await _refusal(found.state)(scope, receive, send)
        await self._purge_now_and_then(engine)

    async def _run(
        self,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
        engine: Engine,
        keyed: KeyedCommand,
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

        token = current.set(keyed)  # read by Kasane._commit, in the command's transaction
        try:
            await self.app(scope, replay_body, capture)
        except LeaseLost:
            # Our lease expired and another request took the key: nothing of ours committed.
            await _refusal("in_progress")(scope, receive, send)
            return
        except Exception:
            if not keyed.committed and keyed.replay is None:
                await run_in_threadpool(release, engine, keyed)
            raise
        finally:
            current.reset(token)
        response = Stored(status, headers, b"".join(chunks))
        if status >= 500:
            if not keyed.committed and keyed.replay is None:
                await run_in_threadpool(release, engine, keyed)
        elif keyed.replay is not None and not 200 <= status < 300:
            # A committed command's answer is a success: anything else is not kept over it.
            logger.error("idempotency: a committed outcome rendered as %d", status)
        else:
            kept = Stored(
                status, [(k, v) for k, v in headers if k.lower() in _KEPT_HEADERS], response.body
            )
            try:
                await run_in_threadpool(store, engine, keyed, kept)
            except (SQLAlchemyError, UnicodeDecodeError) as exc:
                # The outcome is stored with the command: a retry renders this same answer.
                logger.error("idempotency: response not stored (%s)", type(exc).__name__)
        await _send(send, response, replayed=keyed.replay is not None)

    async def _purge_now_and_then(self, engine: Engine) -> None:
        if time.monotonic() - self._purged < _PURGE_EVERY:
            return
        self._purged = time.monotonic()
        try:
            await run_in_threadpool(purge_expired, engine, datetime.now(UTC))
        except SQLAlchemyError as exc:  # the next one will do
            logger.warning("idempotency: purge failed (%s)", type(exc).__name__)


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
    "incomplete": (
        400,
        "incomplete_body",
        "リクエストの本文が途中で切れています",
        "the request body did not arrive complete; nothing was run; send it again",
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
    app.add_middleware(
        Idempotency,
        ttl_hours=settings.idempotency_ttl_hours,
        lease_seconds=settings.idempotency_lease_seconds,
    )
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
