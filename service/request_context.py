"""Per-request context shared by the HTTP layer and the logs: the request id."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="-")
