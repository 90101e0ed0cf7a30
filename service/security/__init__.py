"""Who is calling: bearer tokens from the identity provider and API keys of service accounts."""

from __future__ import annotations


class InvalidCredential(Exception):
    """A credential is missing, unknown, revoked, expired or badly signed (never says which)."""
