"""Dependencies: the acting party from credentials, its permission, the application, the version."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Protocol, cast

from fastapi import Depends, Header, Path, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from service.api.errors import Unauthenticated
from service.api.schemas.common import ID_MAX, ID_PATTERN
from service.application.kasane import Kasane
from service.domain.errors import DomainError
from service.domain.permissions import PERMISSIONS, authorize
from service.domain.values import Actor
from service.logs import note_actor
from service.security import InvalidCredential
from service.security.authenticator import Authenticator
from service.settings import Settings

_api_key = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="API key of a service account (`kasane apikeys create`)",
)
_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="JWT of the identity provider with municipality_id, agency_id and role claims",
)


def settings(request: Request) -> Settings:
    """Return the app's settings."""
    return request.app.state.settings


def application(request: Request) -> Kasane:
    """Return the Kasane application of this process."""
    return request.app.state.kasane


def authenticator(request: Request) -> Authenticator:
    """Return the app's authenticator."""
    return request.app.state.authenticator


def current_actor(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    key: Annotated[str | None, Depends(_api_key)],
    auth: Annotated[Authenticator, Depends(authenticator)],
) -> Actor:
    """Return the acting party named by the request's one credential, never by its body."""
    try:
        if bearer is not None and key is None:
            actor = auth.from_token(bearer.credentials)
        elif key is not None and bearer is None:
            actor = auth.from_api_key(key)
        else:
            raise InvalidCredential()
    except InvalidCredential:
        pass
    else:
        note_actor(actor)  # the access log names the acting party, never its credential
        return actor
    # Missing, unknown, revoked, expired, badly signed or two credentials: one answer for all.
    raise Unauthenticated()


CurrentActor = Annotated[Actor, Depends(current_actor)]


class Permission(Protocol):
    """A dependency that admits only the roles PERMISSIONS allows for its action."""

    action: str

    def __call__(self, actor: Actor) -> Actor: ...


def permit(action: str) -> Permission:
    """Return the dependency that checks the actor's role may perform `action` (R-ORG-1)."""
    if action not in PERMISSIONS:
        raise KeyError(f"no permission named {action!r} in service/domain/permissions.py")

    def permitted(actor: CurrentActor) -> Actor:
        authorize(actor.role, action)
        return actor

    permission = cast(Permission, permitted)
    permission.action = action
    return permission


def public() -> None:
    """Mark the routes of a router as open to anyone: no credential is read."""


class _Routed(Protocol):
    path: str
    dependant: Dependant


def route_permission(route: _Routed) -> str | None:
    """Return the action a route is permitted by, or None if it has no permission dependency."""
    calls: list[Callable[..., Any] | None] = []
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        calls.append(dependant.call)
        pending.extend(dependant.dependencies)
    actions = {c.action for c in calls if c is not None and hasattr(c, "action")}
    if len(actions) > 1:
        raise ValueError(f"{route.path} is guarded by several permissions: {sorted(actions)}")
    return actions.pop() if actions else None


def is_public(route: _Routed) -> bool:
    """Return whether a route was marked public."""
    return any(d.call is public for d in route.dependant.dependencies)


class GuardedRoute(APIRoute):
    """A route that states in the OpenAPI document which roles may call it, or that anyone may."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        action = route_permission(self)
        extra: dict[str, Any]
        if action is not None:
            roles = sorted(str(r) for r in PERMISSIONS[action])
            extra = {"x-permission": {"action": action, "roles": roles}}
        elif is_public(self):
            extra = {"x-permission": {"public": True}}
        else:
            return
        self.openapi_extra = {**(self.openapi_extra or {}), **extra}


def if_match_version(
    if_match: Annotated[
        str | None,
        Header(description='Expected case version, e.g. `"3"`; a stale one answers 412'),
    ] = None,
) -> int | None:
    """Parse the If-Match header as an expected version."""
    if if_match is None:
        return None
    try:
        return int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise DomainError(
            'If-Match must be a case version such as "3"', code="invalid_if_match"
        ) from None


App = Annotated[Kasane, Depends(application)]
IfMatch = Annotated[int | None, Depends(if_match_version)]
# An id in a path (case, host, issue, meeting, subscription): bounded like the ids of bodies.
PathId = Annotated[str, Path(max_length=ID_MAX, pattern=ID_PATTERN)]
