"""Dependencies: the acting party from credentials, the application, the expected version."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader

from service.api.errors import Unauthenticated
from service.application.kasane import Kasane
from service.domain.errors import DomainError
from service.domain.values import Actor
from service.settings import Settings

_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="API key naming municipality, agency and role"
)


def settings(request: Request) -> Settings:
    """Return the app's settings."""
    return request.app.state.settings


def application(request: Request) -> Kasane:
    """Return the Kasane application of this process."""
    return request.app.state.kasane


def current_actor(
    key: Annotated[str | None, Depends(_api_key)],
    config: Annotated[Settings, Depends(settings)],
) -> Actor:
    """Return the acting party named by the request's credential, never by its body."""
    entry = config.api_keys.get(key) if key else None
    if entry is None:
        raise Unauthenticated()
    return Actor(entry.municipality_id, entry.agency_id, entry.role)


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


CurrentActor = Annotated[Actor, Depends(current_actor)]
App = Annotated[Kasane, Depends(application)]
IfMatch = Annotated[int | None, Depends(if_match_version)]
