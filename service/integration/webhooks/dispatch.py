"""The dispatcher: at least once, in order per (subscription, case), signed, with back-off.

The oldest pending row of a (subscription, case) holds back the later ones until it is delivered
or dead-lettered. A row is claimed with a lease before it is sent, so two dispatchers do not send
it at the same time, and no database transaction stays open during an HTTP request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.engine import Engine

from service.integration.webhooks.outbox import CANCELLED, DEAD, DELIVERED, PENDING, stamp
from service.persistence.tables import webhook_deliveries as deliveries
from service.persistence.tables import webhook_outbox as outbox
from service.persistence.tables import webhook_subscriptions as subscriptions
from service.settings import Settings

logger = logging.getLogger("kasane.webhooks")

SIGNATURE_HEADER = "Kasane-Signature"
TIMESTAMP_HEADER = "Kasane-Timestamp"
EVENT_ID_HEADER = "Kasane-Event-Id"

# (url, body, headers) -> HTTP status; raises httpx.HTTPError or OSError when nothing came back.
HttpPost = Callable[[str, bytes, Mapping[str, str]], int]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the hex HMAC-SHA256 of `<timestamp>.<body>` under the subscription's secret."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """Return the `Kasane-Signature` header value: `t=<unix>,v1=<hex>`."""
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def http_sender(timeout: float) -> HttpPost:
    """Return a sender that POSTs with httpx, a short timeout and no redirects."""

    def post(url: str, body: bytes, headers: Mapping[str, str]) -> int:
        return httpx.post(url, content=body, headers=dict(headers), timeout=timeout).status_code

    return post


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long the dispatcher retries one outbox row."""

    max_attempts: int = 8
    base_seconds: float = 10.0
    max_seconds: float = 3600.0
    lease_seconds: float = 60.0  # a claimed row waits this long if the dispatcher dies mid-send

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """Return the policy the settings configure."""
        return cls(
            settings.webhook_max_attempts,
            settings.webhook_backoff_base_seconds,
            settings.webhook_backoff_max_seconds,
        )

    def delay(self, attempts: int) -> timedelta:
        """Back-off before the next try after `attempts` earlier failed ones: base × 2^attempts."""
        return timedelta(seconds=min(self.base_seconds * 2**attempts, self.max_seconds))


@dataclass
class DispatchReport:
    """What one `dispatch_due` call did."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0


def _heads() -> Any:
    # The oldest pending row per (subscription, case): only it may be sent.
    return (
        select(func.min(outbox.c.id))
        .where(outbox.c.status == PENDING)
        .group_by(outbox.c.subscription_id, outbox.c.case_id)
    )


def _attempt(row: Row[Any], now: datetime, http_post: HttpPost) -> tuple[int | None, str]:
    body = row.payload.encode()
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/cloudevents+json; charset=utf-8",
        "User-Agent": "Kasane-Webhooks/1",
        EVENT_ID_HEADER: json.loads(row.payload)["id"],
        "Kasane-Delivery-Id": str(row.id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_header(row.secret, timestamp, body),
    }
    try:
        code = http_post(row.url, body, headers)
    except httpx.TimeoutException:
        return None, "timeout"
    except httpx.ConnectError:
        return None, "connect_error"
    except (httpx.HTTPError, OSError):
        return None, "transport_error"
    return code, "delivered" if 200 <= code < 300 else "rejected"


def _settle(
    engine: Engine,
    row: Row[Any],
    now: datetime,
    code: int | None,
    outcome: str,
    policy: RetryPolicy,
) -> str:
    attempts = row.attempts + 1
    values: dict[str, Any] = {"attempts": attempts}
    if outcome == "delivered":
        values.update(status=DELIVERED, delivered_at=stamp(now))
    elif attempts >= policy.max_attempts:
        values.update(status=DEAD)
    else:
        values.update(next_attempt_at=stamp(now + policy.delay(row.attempts)))
    with engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == row.id).values(**values))
        conn.execute(
            insert(deliveries).values(
                outbox_id=row.id, attempted_at=stamp(now), status_code=code, outcome=outcome
            )
        )
    return str(values.get("status", PENDING))


def dispatch_due(
    engine: Engine,
    now: datetime,
    http_post: HttpPost,
    policy: RetryPolicy | None = None,
    limit: int = 1000,
) -> DispatchReport:
    """Send every due outbox row whose case's earlier rows are settled; log every attempt."""
    policy = policy or RetryPolicy()
    report = DispatchReport()
    due_query = (
        select(outbox, subscriptions.c.url, subscriptions.c.secret, subscriptions.c.active)
        .join(subscriptions, subscriptions.c.id == outbox.c.subscription_id)
        .where(outbox.c.id.in_(_heads()), outbox.c.next_attempt_at <= stamp(now))
        .order_by(outbox.c.id)
    )
    tried = 0
    while tried < limit:
        with engine.connect() as conn:
            rows = conn.execute(due_query.limit(limit - tried)).all()
        if not rows:
            break
        for row in rows:
            tried += 1
            with engine.begin() as conn:
                if not row.active:
                    conn.execute(
                        update(outbox).where(outbox.c.id == row.id).values(status=CANCELLED)
                    )
                    continue
                # Claim the row so that a second dispatcher does not send it at the same time.
                claimed = conn.execute(
                    update(outbox)
                    .where(
                        outbox.c.id == row.id,
                        outbox.c.status == PENDING,
                        outbox.c.next_attempt_at == row.next_attempt_at,
                    )
                    .values(next_attempt_at=stamp(now + timedelta(seconds=policy.lease_seconds)))
                )
            if claimed.rowcount == 0:
                continue
            code, outcome = _attempt(row, now, http_post)
            status = _settle(engine, row, now, code, outcome, policy)
            if status == DELIVERED:
                report.delivered += 1
            else:
                report.failed += 1
                report.dead += int(status == DEAD)
    return report


def next_due(engine: Engine) -> datetime | None:
    """Return when the earliest pending row that may be sent next is due, if any."""
    with engine.connect() as conn:
        value = conn.execute(
            select(func.min(outbox.c.next_attempt_at)).where(outbox.c.id.in_(_heads()))
        ).scalar_one_or_none()
    return datetime.fromisoformat(value) if value else None


@contextmanager
def background_dispatcher(engine: Engine, settings: Settings) -> Iterator[None]:
    """Run `dispatch_due` every few seconds in a thread while the context lasts, if enabled."""
    interval = settings.webhook_dispatch_interval_seconds
    if interval <= 0:
        yield
        return
    stop = threading.Event()
    sender = http_sender(settings.webhook_timeout_seconds)
    policy = RetryPolicy.from_settings(settings)

    def run() -> None:
        while not stop.wait(interval):
            try:
                dispatch_due(engine, datetime.now(UTC), sender, policy)
            except Exception as exc:  # the loop must outlive a locked or unreachable database
                logger.error("webhook dispatch failed: %s", type(exc).__name__)

    thread = threading.Thread(target=run, name="kasane-webhooks", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval + settings.webhook_timeout_seconds + 1)
