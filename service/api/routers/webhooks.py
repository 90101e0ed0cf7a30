"""Webhook subscriptions of the tenant, and the operator's replay of dead letters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    Field,
    StringConstraints,
    UrlConstraints,
    field_validator,
)

from service.api.deps import App, CurrentActor, GuardedRoute, PathId, permit
from service.api.problems import PROBLEMS
from service.api.schemas.common import Id, ShortText, Strict
from service.application import idempotent
from service.domain.labels import EVENT_LABELS
from service.integration import webhooks

router = APIRouter(
    prefix="/webhooks", tags=["webhooks"], responses=PROBLEMS, route_class=GuardedRoute
)

_EVENT_TYPES = ", ".join(EVENT_LABELS)
URL_MAX = 2083  # the longest URL browsers and proxies are known to pass on


class WebhookCreate(Strict):
    """A webhook endpoint of the tenant's case system."""

    url: Annotated[AnyHttpUrl, UrlConstraints(max_length=URL_MAX)] = Field(
        description="Where events are POSTed (http or https, ≤ 2083 characters)"
    )
    event_types: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        default_factory=list,
        max_length=len(EVENT_LABELS),
        description=f"Event types to send; empty sends every type ({_EVENT_TYPES})",
    )
    secret: ShortText | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="HMAC-SHA256 signing secret; omitted, one is generated and returned once",
    )

    @field_validator("event_types")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(EVENT_LABELS))
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {_EVENT_TYPES}")
        return list(dict.fromkeys(value))


class WebhookPublic(BaseModel):
    """A subscription as listed: never its secret."""

    id: str = Field(description="Subscription id")
    url: str = Field(description="Endpoint")
    event_types: list[str] = Field(description="Event types sent; empty: every type")
    created_at: str = Field(description="When it was created")
    pending: int = Field(description="Events waiting to be delivered")
    dead: int = Field(description="Events dead-lettered after the last failed attempt")


class WebhookCreated(WebhookPublic):
    """The new subscription, with its secret: shown only this once."""

    secret: str = Field(description="Signing secret of `Kasane-Signature` (shown only once)")


class DeadLetterReplay(Strict):
    """Which dead letters to send again."""

    subscription_id: Id | None = Field(default=None, description="Only this subscription's")


class DeadLettersReplayed(BaseModel):
    """How many dead letters are pending again."""

    replayed: int = Field(description="Dead letters put back to pending with attempts reset")


def _public(sub: webhooks.Subscription) -> dict[str, object]:
    return {
        "id": sub.id,
        "url": sub.url,
        "event_types": list(sub.event_types),
        "created_at": sub.created_at,
        "pending": sub.pending,
        "dead": sub.dead,
    }


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Webhook の登録",
    dependencies=[Depends(permit("manage_webhooks"))],
)
def create_webhook(body: WebhookCreate, actor: CurrentActor, app: App) -> WebhookCreated:
    """Subscribe an endpoint to the municipality's events; the answer holds the secret.

    Under an Idempotency-Key the key's outcome is kept in the subscription's own transaction, so
    a retry after any failure finds the subscription (answered again) or creates it once."""
    replayed = idempotent.replay_outcome()
    if replayed is not None:
        sub, secret = webhooks.subscription_with_secret(
            app.engine, actor.municipality_id, replayed["webhook"]
        )
    else:
        within = idempotent.within(lambda subscription_id: {"webhook": subscription_id})
        sub, secret = webhooks.create_subscription(
            app.engine, actor.municipality_id, str(body.url), body.event_types, body.secret, within
        )
        idempotent.committed_now()
    return WebhookCreated.model_validate({**_public(sub), "secret": secret})


@router.get("", summary="Webhook の一覧", dependencies=[Depends(permit("manage_webhooks"))])
def list_webhooks(actor: CurrentActor, app: App) -> list[WebhookPublic]:
    """List the municipality's subscriptions with their pending and dead-lettered counts."""
    subs = webhooks.list_subscriptions(app.engine, actor.municipality_id)
    return [WebhookPublic.model_validate(_public(s)) for s in subs]


@router.delete(
    "/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Webhook の削除",
    dependencies=[Depends(permit("manage_webhooks"))],
)
def delete_webhook(subscription_id: PathId, actor: CurrentActor, app: App) -> Response:
    """Stop sending to the endpoint; what it has not received yet is cancelled."""
    if idempotent.replay_outcome() is None:  # else: deleted in the transaction of its key
        within = idempotent.within(lambda deleted: {"webhook_deleted": deleted})
        webhooks.delete_subscription(app.engine, actor.municipality_id, subscription_id, within)
        idempotent.committed_now()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/dead-letters/replay",
    summary="配信失敗イベントの再送",
    dependencies=[Depends(permit("replay_dead_letters"))],
)
def replay_dead_letters(
    actor: CurrentActor, app: App, body: DeadLetterReplay | None = None
) -> DeadLettersReplayed:
    """Put dead-lettered events back to pending with their attempts reset."""
    subscription_id = body.subscription_id if body else None
    replayed = webhooks.replay_dead(
        app.engine, actor.municipality_id, datetime.now(UTC), subscription_id
    )
    return DeadLettersReplayed(replayed=replayed)
