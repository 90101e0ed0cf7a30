"""Encryption of personal data at rest: one AES-GCM data key per person, wrapped by a master key.

Erasure destroys a person's data key: the events stay (the workflow facts are not encrypted, so
the history still replays), but that person's sealed fields read as erased from then on.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from service.persistence.tables import data_keys

Json = dict[str, Any]
SEALED = "__sealed__"
# Development only: a deployment sets KASANE_MASTER_KEY (README, "Encryption at rest").
DEVELOPMENT_MASTER_KEY = base64.b64encode(b"kasane-development-master-key-32").decode()


class KeyStore:
    """Per-person data keys, wrapped with the master key and stored in `data_keys`."""

    def __init__(self, engine: Engine, master_key_b64: str | None) -> None:
        master = base64.b64decode(master_key_b64 or DEVELOPMENT_MASTER_KEY)
        if len(master) != 32:
            raise ValueError("the master key must be 32 bytes (base64)")
        self._master = AESGCM(master)
        self._engine = engine
        # Keys created by this thread's transaction in flight: not yet visible to other connections.
        self._in_flight = threading.local()

    @property
    def engine(self) -> Engine:
        """Return the engine the keys are stored in."""
        return self._engine

    def _pending(self) -> dict[tuple[str, str], bytes]:
        pending: dict[tuple[str, str], bytes] | None = getattr(self._in_flight, "keys", None)
        if pending is None:
            pending = self._in_flight.keys = {}
        return pending

    def ensure(self, session: Session, case_id: str, person_ids: list[str]) -> None:
        """Create the missing data keys of a case's persons inside the caller's transaction."""
        existing = set(
            session.execute(
                select(data_keys.c.person_id).where(data_keys.c.case_id == case_id)
            ).scalars()
        )
        for person_id in person_ids:
            if person_id in existing:
                continue
            key = AESGCM.generate_key(bit_length=256)
            nonce = os.urandom(12)
            wrapped = nonce + self._master.encrypt(nonce, key, f"{case_id}|{person_id}".encode())
            session.execute(
                insert(data_keys).values(
                    case_id=case_id,
                    person_id=person_id,
                    wrapped_key=wrapped,
                    created_at=datetime.now(UTC).isoformat(),
                )
            )
            self._pending()[(case_id, person_id)] = key

    @contextmanager
    def scope(self) -> Iterator[None]:
        """Within the block, each key is looked up once (a replay opens many fields of the
        same persons); outside it every lookup reads the table, so an erasure done by another
        instance takes effect on the next read."""
        cache: dict[tuple[str, str], bytes | None] | None = getattr(self._in_flight, "cache", None)
        if cache is not None:
            yield
            return
        self._in_flight.cache = {}
        try:
            yield
        finally:
            self._in_flight.cache = None

    def key(self, case_id: str, person_id: str, conn: Connection | None = None) -> bytes | None:
        """Return the person's data key, or None once erased (or never created)."""
        pending = self._pending().get((case_id, person_id))
        if pending is not None:
            return pending
        cache: dict[tuple[str, str], bytes | None] | None = getattr(self._in_flight, "cache", None)
        if cache is not None:
            if (case_id, person_id) not in cache:
                cache[(case_id, person_id)] = self._stored_key(case_id, person_id, conn)
            return cache[(case_id, person_id)]
        return self._stored_key(case_id, person_id, conn)

    def _stored_key(self, case_id: str, person_id: str, conn: Connection | None) -> bytes | None:
        query = select(data_keys.c.wrapped_key, data_keys.c.erased_at).where(
            data_keys.c.case_id == case_id, data_keys.c.person_id == person_id
        )
        if conn is not None:
            row = conn.execute(query).one_or_none()
        else:
            with self._engine.connect() as own:
                row = own.execute(query).one_or_none()
        if row is None or row.erased_at is not None or row.wrapped_key is None:
            return None
        wrapped = bytes(row.wrapped_key)
        return self._master.decrypt(wrapped[:12], wrapped[12:], f"{case_id}|{person_id}".encode())

    def settle(self) -> None:
        """Forget this thread's in-flight keys: committed, they are in the table; else gone."""
        self._pending().clear()

    def erase(
        self,
        case_id: str,
        person_id: str,
        reason: str,
        erased_by: str,
        within: Callable[[Connection, bool], None] | None = None,
    ) -> bool:
        """Destroy a person's data key; return whether there was one to destroy.

        On SQLite the freed bytes are overwritten (`secure_delete`) and the write-ahead log is
        checkpointed and truncated, so the wrapped key survives neither in the database file
        nor in its -wal (README, "Erasure"); PostgreSQL keeps it until VACUUM and in backups.
        """
        sqlite = self._engine.dialect.name == "sqlite"
        with self._engine.begin() as conn:
            if sqlite:
                conn.exec_driver_sql("PRAGMA secure_delete = ON")
            result = conn.execute(
                update(data_keys)
                .where(
                    data_keys.c.case_id == case_id,
                    data_keys.c.person_id == person_id,
                    data_keys.c.erased_at.is_(None),
                )
                .values(
                    wrapped_key=None,
                    erased_at=datetime.now(UTC).isoformat(),
                    erased_by=erased_by,
                    reason=reason,
                )
            )
            if within is not None:  # e.g. an Idempotency-Key's outcome, in this transaction
                within(conn, bool(result.rowcount))
        self._pending().pop((case_id, person_id), None)
        cache = getattr(self._in_flight, "cache", None)
        if cache is not None:
            cache.pop((case_id, person_id), None)
        if sqlite:
            with self._engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return bool(result.rowcount)

    def seal(
        self, case_id: str, person_id: str, value: Any, context: str, conn: Connection | None = None
    ) -> Json:
        """Encrypt one person's value; `context` binds the ciphertext to where it is stored."""
        return self.seal_with(
            self.key(case_id, person_id, conn), case_id, person_id, value, context
        )

    def seal_with(
        self, key: bytes | None, case_id: str, person_id: str, value: Any, context: str
    ) -> Json:
        """Encrypt one person's value with the person's key (None: erased) looked up before."""
        if key is None:
            return {"person_id": person_id, "erased": True}
        nonce = os.urandom(12)
        plaintext = json.dumps(value, ensure_ascii=False).encode()
        aad = f"{case_id}|{person_id}|{context}".encode()
        token = base64.b64encode(nonce + _cipher(key).encrypt(nonce, plaintext, aad)).decode()
        return {SEALED: token, "person_id": person_id}

    def unseal(
        self, case_id: str, sealed: Any, context: str, conn: Connection | None = None
    ) -> Any:
        """Decrypt a sealed value; an erased person's value reads as erased."""
        if not isinstance(sealed, dict) or SEALED not in sealed:
            return sealed
        return self.unseal_with(
            self.key(case_id, sealed["person_id"], conn), case_id, sealed, context
        )

    def unseal_with(self, key: bytes | None, case_id: str, sealed: Json, context: str) -> Any:
        """Decrypt a sealed value with the person's key (None: erased) looked up before."""
        person_id = sealed["person_id"]
        if key is None:
            return {"person_id": person_id, "erased": True}
        raw = base64.b64decode(sealed[SEALED])
        aad = f"{case_id}|{person_id}|{context}".encode()
        try:
            return json.loads(_cipher(key).decrypt(raw[:12], raw[12:], aad))
        except InvalidTag:
            raise ValueError(f"sealed data of {person_id} does not belong here") from None


@lru_cache(maxsize=1024)
def _cipher(key: bytes) -> AESGCM:
    """Return the AES-GCM cipher of a data key (its key schedule is built once)."""
    return AESGCM(key)
