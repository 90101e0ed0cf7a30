"""Moved to `service.api.idempotency` (HTTP code); kept so that older imports still work."""

from service.api.idempotency import (
    HEADER,
    Idempotency,
    Stored,
    claim,
    fingerprint_of,
    install,
    purge_expired,
    release,
    store,
)

__all__ = [
    "HEADER",
    "Idempotency",
    "Stored",
    "claim",
    "fingerprint_of",
    "install",
    "purge_expired",
    "release",
    "store",
]
