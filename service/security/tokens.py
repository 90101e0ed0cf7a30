"""Bearer tokens: JWTs of the identity provider, checked against its JWKS; development tokens."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jwt

from service.domain.values import Actor, Role
from service.security import InvalidCredential
from service.settings import Settings

# Asymmetric only: the service holds no secret that could mint a token. HS256 is accepted solely
# with the explicit development setting `jwt_dev_hs256_secret`.
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256", "EdDSA")
DEV_ALGORITHM = "HS256"
CLAIMS = ("municipality_id", "agency_id", "role")
_LEEWAY = dt.timedelta(seconds=30)  # clock skew between the identity provider and us


class TokenVerifier:
    """Check a bearer token's signature, `exp`, `aud` and `iss`, and read the acting party."""

    def __init__(self, settings: Settings) -> None:
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._dev_secret = settings.jwt_dev_hs256_secret
        self._keys: list[jwt.PyJWK] = []
        if settings.jwks_file:
            text = Path(settings.jwks_file).read_text(encoding="utf-8")
            self._keys = [k for k in jwt.PyJWKSet.from_json(text) if _signs(k)]
        self._client = jwt.PyJWKClient(settings.jwks_url) if settings.jwks_url else None

    def actor(self, token: str) -> Actor:
        """Return the acting party of a valid token; raise InvalidCredential otherwise."""
        try:
            header = jwt.get_unverified_header(token)
            key, algorithms = self._key(header)
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=_LEEWAY,
                options={"require": ["exp", "aud", *CLAIMS]},
            )
            return Actor(
                _text(claims, "municipality_id"), _text(claims, "agency_id"), Role(claims["role"])
            )
        except (jwt.PyJWTError, ValueError, KeyError, TypeError):
            raise InvalidCredential() from None

    def _key(self, header: dict[str, Any]) -> tuple[jwt.PyJWK | str, list[str]]:
        alg = header.get("alg")
        if alg == DEV_ALGORITHM and self._dev_secret:
            return self._dev_secret, [DEV_ALGORITHM]
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise InvalidCredential()
        algorithms = list(ASYMMETRIC_ALGORITHMS)  # narrowed to the key's own by PyJWT
        kid = header.get("kid")
        if kid is None and len(self._keys) == 1 and self._client is None:
            return self._keys[0], algorithms  # a provider with a single key may omit `kid`
        for key in self._keys:
            if kid is not None and key.key_id == kid:
                return key, algorithms
        if self._client is not None and isinstance(kid, str):
            return self._client.get_signing_key(kid), algorithms
        raise InvalidCredential()


def _signs(key: jwt.PyJWK) -> bool:
    return key.public_key_use in ("sig", None) and key.algorithm_name in ASYMMETRIC_ALGORITHMS


def _text(claims: dict[str, Any], name: str) -> str:
    value = claims[name]
    if not isinstance(value, str) or not value:
        raise ValueError(name)
    return value


def development_token(settings: Settings, actor: Actor, minutes: int = 60) -> str:
    """Return an HS256 token for `actor` signed with the development secret."""
    if not settings.jwt_dev_hs256_secret:
        raise ValueError("KASANE_JWT_DEV_HS256_SECRET is not set")
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {
        "sub": actor.agency_id,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + dt.timedelta(minutes=minutes),
        **actor.as_dict(),
    }
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, settings.jwt_dev_hs256_secret, algorithm=DEV_ALGORITHM)
