"""Pure ASGI middleware: access log with request ids, rate limit and body-size cap (OWASP API4).

Pure ASGI rather than `BaseHTTPMiddleware`, which buffers bodies and runs the app in a task of
its own (so context variables set here would not reach the handlers).
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
import uuid
from collections.abc import Callable

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import logs
from service.api.errors import problem
from service.settings import Settings

_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_WINDOW = 60.0


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class AccessLog:
    """Give each request an id, echo it in `X-Request-ID`, log one `kasane.access` record."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request inside its request id and log how it ended."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = (_header(scope, b"x-request-id") or b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.fullmatch(incoming) else str(uuid.uuid4())
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        with logs.serving(request_id) as served:
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                self._log(scope, request_id, 500, started, served, type(exc).__name__)
                raise
            self._log(scope, request_id, status, started, served, None)

    @staticmethod
    def _log(
        scope: Scope,
        request_id: str,
        status: int,
        started: float,
        served: logs.Served,
        exc_type: str | None,
    ) -> None:
        # The route template, never the concrete path or query string: those may hold
        # whatever a client typed, personal data included.
        route = getattr(scope.get("route"), "path", None)
        actor = served.actor
        fields = {
            "request_id": request_id,
            "method": scope["method"],
            "route": route,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "municipality_id": actor.municipality_id if actor else None,
            "agency_id": actor.agency_id if actor else None,
            "role": str(actor.role) if actor else None,
        }
        if exc_type is not None:
            fields["exc_type"] = exc_type
        logs.ACCESS.info("%s %s %d", scope["method"], route or "-", status, extra=fields)


class RateLimiter:
    """A token bucket per key: `per_minute` requests, refilled continuously.

    State lives in this process: with several instances each allows `per_minute` on its own.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / _WINDOW
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._swept = clock()
        # Apps served from several threads (TestClient portals, tests) share one limiter.
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """Take a token for `key`; return 0, or the seconds until one is available."""
        with self._lock:
            now = self.clock()
            self._sweep(now)
            tokens, at = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate

    def wait(self, key: str) -> float:
        """Return 0 if `key` has a token left, else the seconds until it has (takes nothing)."""
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def _sweep(self, now: float) -> None:
        # A bucket untouched for a whole window is full again: forgetting it changes nothing,
        # and it keeps the table as small as the keys seen in the last minute.
        if now - self._swept >= _WINDOW:
            self._swept = now
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < _WINDOW}


def credential_key(scope: Scope) -> str:
    """Return the limiter key: a hash of the credential, else the client's address."""
    for name in (b"x-api-key", b"authorization"):
        value = _header(scope, name)
        if value:
            return f"{name.decode()}:{hashlib.sha256(value).hexdigest()}"
    return _address(scope)


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return f"addr:{client[0] if client else '-'}"


class RateLimit:
    """Answer 429 `rate_limited` with Retry-After once a credential spends its requests.

    Every refused credential (401 for a request that presented one) also spends the budget of
    failed authentications of the client's address (`failures`): guessing credentials, each of
    which would have a fresh budget of its own, stops after that many failures a minute from
    one address.
    """

    def __init__(
        self, app: ASGIApp, limiter: RateLimiter, failures: RateLimiter | None = None
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.failures = failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let the request through or refuse it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = _address(scope)
        key = credential_key(scope)
        wait = self.failures.wait(address) if self.failures else 0.0
        if wait or (wait := self.limiter.acquire(key)):
            await self._refuse(wait, scope, receive, send)
            return
        if self.failures is None or key == address:  # no credential presented, none guessed
            await self.app(scope, receive, send)
            return
        failures = self.failures

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                failures.acquire(address)
            await send(message)

        await self.app(scope, receive, counted)

    @staticmethod
    async def _refuse(wait: float, scope: Scope, receive: Receive, send: Send) -> None:
        retry_after = max(1, math.ceil(wait - 1e-6))  # 1.0000000001 s is 1 s
        response = problem(
            429,
            "rate_limited",
            "リクエストが多すぎます",
            f"too many requests for this credential; retry after {retry_after} s",
        )
        response.headers["Retry-After"] = str(retry_after)
        await response(scope, receive, send)


class _TooLarge(Exception):
    """The body grew past the cap while the app was reading it."""


class BodySizeLimit:
    """Answer 413 `payload_too_large` for a body over `max_bytes`, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a declared oversize body up front; count the bytes of any other."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = (_header(scope, b"content-length") or b"").decode("latin-1")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        exceeded = False
        started = False

        async def counted() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # whatever the app made of the cut-off body; the 413 replaces it
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            # FastAPI turns a failed body read into a 400; any other layer may let it through.
            if not exceeded or started:
                raise
        if exceeded and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            "payload_too_large",
            "リクエストが大きすぎます",
            f"the request body exceeds {self.max_bytes} bytes",
        )
        await response(scope, receive, send)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware: access log outermost, so refusals are logged with their id too."""
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.rate_limit_per_minute > 0:  # 0 turns the limiter off
        limiter = RateLimiter(settings.rate_limit_per_minute)
        failures = (
            RateLimiter(settings.auth_failures_per_minute)
            if settings.auth_failures_per_minute > 0
            else None
        )
        app.state.rate_limiter = limiter
        app.state.auth_failure_limiter = failures
        app.add_middleware(RateLimit, limiter=limiter, failures=failures)
    app.add_middleware(AccessLog)
