"""Webhook subscriptions of a municipality: create, list, delete, and replay of dead letters."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from service.domain.errors import NotFound
from service.integration.webhooks.outbox import CANCELLED, DEAD, DELIVERED, PENDING, stamp
from service.persistence.tables import webhook_outbox as outbox
from service.persistence.tables import webhook_subscriptions as subscriptions

SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class Subscription:
    """A tenant's webhook endpoint, without its secret."""

    id: str
    url: str
    event_types: tuple[str, ...]
    created_at: str
    pending: int = 0
    dead: int = 0


def create_subscription(
    engine: Engine,
    municipality_id: str,
    url: str,
    event_types: Iterable[str],
    secret: str | None,
    within: Callable[[Connection, str], None] | None = None,
) -> tuple[Subscription, str]:
    """Store a subscription; return it and its signing secret (generated when not given).
    `within` runs in the same transaction with the new id (an Idempotency-Key's outcome)."""
    secret = secret or SECRET_PREFIX + secrets.token_urlsafe(32)
    sub = Subscription(str(uuid.uuid4()), url, tuple(event_types), stamp(datetime.now(UTC)))
    with engine.begin() as conn:
        conn.execute(
            insert(subscriptions).values(
                id=sub.id,
                municipality_id=municipality_id,
                url=url,
                event_types=json.dumps(list(sub.event_types)),
                secret=secret,
                created_at=sub.created_at,
                active=1,
            )
        )
        if within is not None:
            within(conn, sub.id)
    return sub, secret


def subscription_with_secret(
    engine: Engine, municipality_id: str, subscription_id: str
) -> tuple[Subscription, str]:
    """Return a subscription of the tenant with its secret (a keyed creation answered again)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(subscriptions).where(
                subscriptions.c.id == subscription_id,
                subscriptions.c.municipality_id == municipality_id,
            )
        ).one_or_none()
    if row is None:
        raise NotFound(f"webhook subscription {subscription_id} not found")
    sub = Subscription(row.id, row.url, tuple(json.loads(row.event_types)), row.created_at)
    return sub, str(row.secret)


def list_subscriptions(engine: Engine, municipality_id: str) -> list[Subscription]:
    """Return the tenant's active subscriptions with their pending and dead-lettered counts."""
    counts = (
        select(outbox.c.subscription_id, outbox.c.status, func.count().label("n"))
        .where(outbox.c.municipality_id == municipality_id, outbox.c.status.in_((PENDING, DEAD)))
        .group_by(outbox.c.subscription_id, outbox.c.status)
    )
    with engine.connect() as conn:
        tally = {(r.subscription_id, r.status): r.n for r in conn.execute(counts)}
        rows = conn.execute(
            select(subscriptions)
            .where(subscriptions.c.municipality_id == municipality_id, subscriptions.c.active == 1)
            .order_by(subscriptions.c.created_at, subscriptions.c.id)
        ).all()
    return [
        Subscription(
            r.id,
            r.url,
            tuple(json.loads(r.event_types)),
            r.created_at,
            tally.get((r.id, PENDING), 0),
            tally.get((r.id, DEAD), 0),
        )
        for r in rows
    ]


def _owned(subscription_id: str, municipality_id: str) -> Any:
    return (
        subscriptions.c.id == subscription_id,
        subscriptions.c.municipality_id == municipality_id,
        subscriptions.c.active == 1,
    )


def delete_subscription(
    engine: Engine,
    municipality_id: str,
    subscription_id: str,
    within: Callable[[Connection, str], None] | None = None,
) -> None:
    """Deactivate the tenant's subscription and cancel what it has not delivered; `within`
    runs in the same transaction (an Idempotency-Key's outcome)."""
    with engine.begin() as conn:
        done = conn.execute(
            update(subscriptions).where(*_owned(subscription_id, municipality_id)).values(active=0)
        )
        if done.rowcount == 0:
            # Another municipality's id answers exactly like a missing one.
            raise NotFound(f"webhook subscription {subscription_id} not found")
        conn.execute(
            update(outbox)
            .where(outbox.c.subscription_id == subscription_id, outbox.c.status != DELIVERED)
            .values(status=CANCELLED)
        )
        if within is not None:
            within(conn, subscription_id)


def replay_dead(
    engine: Engine, municipality_id: str, now: datetime, subscription_id: str | None = None
) -> int:
    """Put the tenant's dead letters back to pending with no attempts; return how many."""
    with engine.begin() as conn:
        owned = select(subscriptions.c.id).where(*_owned(subscription_id or "", municipality_id))
        if subscription_id is not None and conn.execute(owned).first() is None:
            raise NotFound(f"webhook subscription {subscription_id} not found")
        where = [outbox.c.municipality_id == municipality_id, outbox.c.status == DEAD]
        if subscription_id is not None:
            where.append(outbox.c.subscription_id == subscription_id)
        done = conn.execute(
            update(outbox)
            .where(*where)
            .values(status=PENDING, attempts=0, next_attempt_at=stamp(now))
        )
    return int(done.rowcount)
