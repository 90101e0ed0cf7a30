"""API keys of service accounts (vendor systems): stored as hashes, looked up by hash, revocable.

A key is 32 random bytes (`secrets.token_urlsafe(32)`), so its plain SHA-256 is as good as a
slow password hash here: nobody can enumerate 2**256 candidates, which is the attack a salt or a
key-stretching function defends against. The lookup is by hash, so the database never sees the
key and a leaked table reveals no usable credential. There is no cache: a revocation takes effect
on the next request.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from service.domain.values import Actor, Role
from service.persistence.tables import api_keys
from service.settings import DEVELOPMENT_API_KEYS

KEY_PREFIX = "kasane_"


@dataclass(frozen=True)
class ApiKeyRecord:
    """One stored API key, without the key itself."""

    id: str
    name: str
    municipality_id: str
    agency_id: str
    role: Role
    created_at: str
    revoked_at: str | None


def hash_key(key: str) -> str:
    """Return the stored form of `key`: its SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """Return a fresh random API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _record(row: object) -> ApiKeyRecord:
    m = row._mapping  # type: ignore[attr-defined]
    return ApiKeyRecord(
        id=m["id"],
        name=m["name"],
        municipality_id=m["municipality_id"],
        agency_id=m["agency_id"],
        role=Role(m["role"]),
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
    )


def create_api_key(
    engine: Engine, name: str, actor: Actor, key: str | None = None
) -> tuple[ApiKeyRecord, str]:
    """Store a key standing for `actor`; return its record and the key (shown only this once)."""
    key = key or new_key()
    record = ApiKeyRecord(
        id=str(uuid.uuid4()),
        name=name,
        municipality_id=actor.municipality_id,
        agency_id=actor.agency_id,
        role=actor.role,
        created_at=_now(),
        revoked_at=None,
    )
    with engine.begin() as conn:
        conn.execute(
            insert(api_keys).values(
                id=record.id,
                key_hash=hash_key(key),
                name=record.name,
                municipality_id=record.municipality_id,
                agency_id=record.agency_id,
                role=str(record.role),
                created_at=record.created_at,
                revoked_at=None,
            )
        )
    return record, key


def list_api_keys(engine: Engine) -> list[ApiKeyRecord]:
    """Return every stored key, oldest first, revoked ones included."""
    query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
    with engine.connect() as conn:
        return [_record(row) for row in conn.execute(query)]


def revoke_api_key(engine: Engine, key_id: str) -> bool:
    """Revoke the key with id `key_id`; return whether a live key was revoked."""
    with engine.begin() as conn:
        result = conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=_now())
        )
    return bool(result.rowcount)


def actor_for_key(engine: Engine, key: str) -> Actor | None:
    """Return the party a live key stands for, or None for an unknown or revoked key."""
    # The comparison happens on the hash inside the database: timing can at most reveal a prefix
    # of a SHA-256, which says nothing about any key.
    query = select(api_keys.c.municipality_id, api_keys.c.agency_id, api_keys.c.role).where(
        api_keys.c.key_hash == hash_key(key), api_keys.c.revoked_at.is_(None)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return Actor(row.municipality_id, row.agency_id, Role(row.role))


DEVELOPMENT_KEY_HASHES = frozenset(hash_key(k) for k in DEVELOPMENT_API_KEYS)


def is_development_key(key: str) -> bool:
    """Return whether `key` is one of the public development keys."""
    return hash_key(key) in DEVELOPMENT_KEY_HASHES


def seed_development_keys(engine: Engine) -> None:
    """Store the development keys that are not stored yet (a revoked one stays revoked)."""
    with engine.connect() as conn:
        stored = set(
            conn.scalars(
                select(api_keys.c.key_hash).where(api_keys.c.key_hash.in_(DEVELOPMENT_KEY_HASHES))
            )
        )
    for key, entry in DEVELOPMENT_API_KEYS.items():
        if hash_key(key) in stored:
            continue
        actor = Actor(entry.municipality_id, entry.agency_id, entry.role)
        with contextlib.suppress(IntegrityError):  # another process seeded it first
            create_api_key(engine, f"development key ({entry.agency_id})", actor, key)
