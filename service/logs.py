"""Structured logs: one JSON object per line, the request id in every record, no personal data."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from service import request_context
from service.domain.values import Actor

ACCESS = logging.getLogger("kasane.access")
"""One record per HTTP request (see service/api/middleware.py)."""

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
}


@dataclass
class Served:
    """What the access log learns about a request while it is served."""

    actor: Actor | None = None


_served: ContextVar[Served | None] = ContextVar("served", default=None)


@contextmanager
def serving(request_id: str) -> Iterator[Served]:
    """Set the request id (and an empty `Served`) for the duration of one request."""
    served = Served()
    id_token = request_context.request_id.set(request_id)
    served_token = _served.set(served)
    try:
        yield served
    except BaseException:
        # Left set on purpose: Starlette's server-error handler runs after this frame, in the
        # same task, and its record must still carry the id. The task ends with the request.
        raise
    else:
        _served.reset(served_token)
        request_context.request_id.reset(id_token)


def note_actor(actor: Actor) -> None:
    """Tell the access log who acts in the current request (its credential is never logged)."""
    served = _served.get()
    if served is not None:
        served.actor = actor


class RequestIdFilter(logging.Filter):
    """Stamp each record with the id of the request being served (`-` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add `request_id` unless the record already has one; never drop a record."""
        if not hasattr(record, "request_id"):
            record.request_id = request_context.request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line: time, level, logger, message, request id, extras.

    Of an exception only the type's name is written: its message and traceback may hold
    personal data.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON object on one line."""
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_context.request_id.get()),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info and record.exc_info[0] is not None:
            line["exc_type"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False, default=str)


class StderrJsonHandler(logging.Handler):
    """Write formatted records to the *current* `sys.stderr` (pytest swaps it per test)."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write one line."""
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def configure_logging(level: int = logging.INFO) -> None:
    """Send every record to stderr as JSON with the request id; calling it again does nothing.

    The handler sits on the root logger and nothing stops propagation, so pytest's `caplog`
    and any handler an operator adds keep working.
    """
    root = logging.getLogger()
    if not any(isinstance(h, StderrJsonHandler) for h in root.handlers):
        handler = StderrJsonHandler()
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    kasane = logging.getLogger("kasane")
    if kasane.level == logging.NOTSET:
        kasane.setLevel(level)
