"""One place that turns a request's credential into the acting party."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from service.domain.values import Actor
from service.security import InvalidCredential
from service.security.api_keys import actor_for_key, is_development_key, seed_development_keys
from service.security.tokens import TokenVerifier
from service.settings import Settings

logger = logging.getLogger("kasane")


class Authenticator:
    """Check bearer tokens and API keys; every failure is the same InvalidCredential."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self._tokens = TokenVerifier(settings)
        self._engine = engine
        self._development_keys = settings.development_keys

    def from_token(self, token: str) -> Actor:
        """Return the party of a valid bearer token."""
        return self._tokens.actor(token)

    def from_api_key(self, key: str) -> Actor:
        """Return the party of a live API key."""
        # Development keys stay in the database after the setting is turned off; refuse them.
        if not self._development_keys and is_development_key(key):
            raise InvalidCredential()
        actor = actor_for_key(self._engine, key)
        if actor is None:
            raise InvalidCredential()
        return actor


def start_authenticator(settings: Settings, engine: Engine) -> Authenticator:
    """Return the authenticator of an app; seed the development keys when they are enabled."""
    if settings.development_keys:
        seed_development_keys(engine)
        logger.warning(
            "development API keys are accepted; set KASANE_DEVELOPMENT_KEYS=false in production"
        )
    return Authenticator(settings, engine)
