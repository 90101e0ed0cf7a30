"""Webhooks: per-tenant subscriptions, a transactional outbox and an at-least-once dispatcher.

`outbox.enqueue` writes the rows in the command's transaction, so no committed event is ever
missed and no rolled-back one is ever sent; `dispatch.dispatch_due` delivers them in order per
case, signed with the subscription's secret; `subscriptions` is what the API and CLI manage.
"""

from __future__ import annotations

from service.integration.webhooks.dispatch import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DispatchReport,
    HttpPost,
    RetryPolicy,
    background_dispatcher,
    dispatch_due,
    http_sender,
    next_due,
    sign,
    signature_header,
)
from service.integration.webhooks.outbox import enqueue, envelope, stamp
from service.integration.webhooks.subscriptions import (
    Subscription,
    create_subscription,
    delete_subscription,
    list_subscriptions,
    replay_dead,
    subscription_with_secret,
)

__all__ = [
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "DispatchReport",
    "HttpPost",
    "RetryPolicy",
    "Subscription",
    "background_dispatcher",
    "create_subscription",
    "delete_subscription",
    "dispatch_due",
    "enqueue",
    "envelope",
    "http_sender",
    "list_subscriptions",
    "next_due",
    "replay_dead",
    "sign",
    "signature_header",
    "stamp",
    "subscription_with_secret",
]
