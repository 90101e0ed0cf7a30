"""A keyed command's record, written in the command's own transaction.

The HTTP layer claims an Idempotency-Key with a lease of a few seconds, then sets `current`
for the request. `Kasane._commit` writes the command's outcome into the key's row in the same
transaction as its events: either both are stored or neither is. The write succeeds only while
the request still owns the key, so a request whose lease was taken over never commits.

The outcome is what the route renders its answer from (a `CaseResult`, an `EngagementResult`,
or an aggregate's id and version). A retry that finds the outcome without the stored answer
(the process died between the commit and storing it) sets `KeyedCommand.replay`: the command
methods then return the stored outcome instead of running, so the route renders the same answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass, is_dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from service.persistence.tables import idempotency_keys as keys

Json = dict[str, Any]


class LeaseLost(Exception):
    """Another request took the key over: this one must not commit."""


@dataclass
class KeyedCommand:
    """The key a request runs under, and what its commit recorded."""

    municipality_id: str
    agency_id: str
    key: str
    owner: str | None  # None: a retry rendering a committed outcome again, owning nothing
    committed: bool = False
    replay: Json | None = None

    def where(self) -> tuple[Any, ...]:
        """The key's row, as long as this request owns it."""
        c = keys.c
        row = (c.municipality_id == self.municipality_id, c.agency_id == self.agency_id)
        owned = () if self.owner is None else (c.owner == self.owner,)
        return (*row, c.key == self.key, *owned)


current: ContextVar[KeyedCommand | None] = ContextVar("idempotency_key", default=None)


def outcome_of(result: Any) -> Json:
    """The JSON kept for `result`: a result dataclass's fields, or an aggregate's id/version."""
    if is_dataclass(result) and not isinstance(result, type):
        return {"result": asdict(result)}
    return {"aggregate": str(result.id), "version": int(result.version)}


def within(outcome: Callable[[Any], Json]) -> Callable[[Connection, Any], None] | None:
    """For a command that writes no events (a webhook subscription, an erasure): the write to
    run inside its own transaction, keeping its outcome there (None without a key). Call
    `committed_now()` once that transaction has committed."""
    keyed = current.get()
    if keyed is None:
        return None
    if keyed.replay is not None:
        raise RuntimeError("a replayed command must not be written again")
    return lambda conn, value: record(conn, keyed, outcome(value))


def committed_now() -> None:
    """The command's transaction committed (with its outcome, when it runs under a key)."""
    keyed = current.get()
    if keyed is not None:
        keyed.committed = True


def replay_outcome() -> Json | None:
    """The stored outcome, when the request renders a committed command again."""
    keyed = current.get()
    return None if keyed is None else keyed.replay


def record(session: Session | Connection, keyed: KeyedCommand, outcome: Json) -> None:
    """Store the outcome in the command's transaction; raise LeaseLost if the key moved on."""
    done = session.execute(
        update(keys)
        .where(*keyed.where(), keys.c.outcome.is_(None), keys.c.status_code.is_(None))
        .values(outcome=json.dumps(outcome), lease_expires_at=None)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(keyed.key)


def committed(engine_connect: Callable[[], Any], keyed: KeyedCommand) -> bool:
    """Whether this request's outcome is stored (an ambiguous COMMIT resolved)."""
    with engine_connect() as conn:
        row = conn.execute(select(keys.c.outcome).where(*keyed.where())).one_or_none()
    return row is not None and row.outcome is not None


def replayed(build: Callable[[Json], Any]) -> Any | None:
    """The stored outcome rebuilt by `build`, when the request replays a committed command."""
    keyed = current.get()
    if keyed is None or keyed.replay is None:
        return None
    return build(keyed.replay)


def replay_result(cls: Callable[..., Any]) -> Callable[[Json], Any]:
    """Build a result dataclass from its stored fields."""

    def build(outcome: Json) -> Any:
        fields = dict(outcome["result"])
        if "allowed_commands" in fields:
            fields["allowed_commands"] = tuple(fields["allowed_commands"])
        return cls(**fields)

    return build


def replay_aggregate(get: Callable[..., Any]) -> Callable[[Json], Any]:
    """Load the aggregate at the stored version (`get` is `repository.get`)."""
    return lambda outcome: get(UUID(outcome["aggregate"]), version=outcome["version"])


def iso(at: datetime) -> str:
    """A timestamp as the key table stores it."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")
