"""Group commit: the writes of concurrent commands share one transaction, so one disk sync.

A command's transaction spends most of its time waiting for the disk (`synchronous=FULL` on
SQLite, the WAL flush on PostgreSQL). Commands arriving while another group is being written
queue up; the first of them to find no group in progress leads: it writes every queued command
in one transaction and commits once. Each command still returns only after the transaction
holding its writes has committed (durability), and from the same call as before.

If any write of a group fails, the whole transaction rolls back. A failure may be ambiguous
(the connection lost during COMMIT): each command may bring a `committed` look-up, asked first;
a group is one transaction, so if one of its commands is found committed, all of them are.
Otherwise a failure of the database itself (a lock wait that timed out, a full disk, a lost
connection: PEP 249's operational and interface errors) would meet every command again, so it
fails the whole group at once, and the commands queued meanwhile with it: none waits longer
than one lock timeout. Any other failure (an expected-version conflict, a refused value) is one
command's: each command of the group is written again in a transaction of its own, so it
reaches only the command that caused it. The aggregates' pending events are put back before
that second attempt, since saving the first time collected them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

Write = Callable[[Session], None]
Committed = Callable[[BaseException], bool]  # did the write that failed so commit after all?
_SHARED = (
    StoreOperationalError,
    StoreInterfaceError,
    OperationalError,
    InterfaceError,
    PoolTimeout,
)


def shared_failure(exc: BaseException) -> bool:
    """Tell whether `exc` is the database's failure, met by any command, not one command's."""
    return isinstance(exc, _SHARED) or isinstance(exc.__cause__, _SHARED)


class _Command:
    """One command's writes, waiting for its group to commit."""

    def __init__(
        self, write: Write, aggregates: Sequence[Aggregate], committed: Committed | None = None
    ) -> None:
        self.write = write
        self.committed = committed
        self.pending = [(a, list(a.pending_events)) for a in aggregates]
        self.done = False
        self.error: BaseException | None = None

    def restore(self) -> None:
        """Put back the events a failed attempt collected from the aggregates."""
        for aggregate, events in self.pending:
            aggregate.pending_events[:] = events


class GroupCommit:
    """Runs each `submit`ted write in a transaction shared with the writes queued meanwhile."""

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[Any]],
        settle: Callable[[], None],
        max_group: int = 64,
    ) -> None:
        self._transaction = transaction
        self._settle = settle  # forget per-transaction state (the key store's in-flight keys)
        self._max_group = max_group
        self._lock = threading.Condition()
        self._queue: list[_Command] = []
        self._leading = False

    def submit(
        self, write: Write, aggregates: Sequence[Aggregate], committed: Committed | None = None
    ) -> None:
        """Write in a committed transaction; raise what the write raised."""
        command = _Command(write, aggregates, committed)
        with self._lock:
            self._queue.append(command)
            while not command.done:
                if self._leading:
                    self._lock.wait()
                    continue
                # Lead one group (the oldest queued commands), then look again: a full queue
                # may have left this command for the next group.
                self._leading = True
                group = self._queue[: self._max_group]
                del self._queue[: self._max_group]
                self._lock.release()
                try:
                    self._write(group)
                finally:
                    self._lock.acquire()
                    for c in group:
                        c.done = True
                    self._leading = False
                    self._lock.notify_all()
        if command.error is not None:
            raise command.error

    def _write(self, group: list[_Command]) -> None:
        try:
            self._attempt(group)
        except BaseException as exc:
            if _committed_after_all(group, exc):
                return
            shared = shared_failure(exc)
            if shared or len(group) == 1:
                for command in group:
                    command.error = exc
                if shared:
                    self._fail_queued(exc)
                return
            for n, command in enumerate(group):  # one at a time: the failure reaches its command
                command.restore()
                try:
                    self._attempt([command])
                except BaseException as single:
                    if _committed_after_all([command], single):
                        continue
                    command.error = single
                    if shared_failure(single):  # the database failed meanwhile: no more waits
                        for rest in group[n + 1 :]:
                            rest.error = single
                        self._fail_queued(single)
                        return

    def _fail_queued(self, exc: BaseException) -> None:
        # Queued while the lock wait ran: they would wait as long again for the same cause.
        with self._lock:
            for command in self._queue:
                command.error = exc
                command.done = True
            self._queue.clear()

    def _attempt(self, group: list[_Command]) -> None:
        try:
            with self._transaction() as session:
                for command in group:
                    command.write(session)
        finally:
            self._settle()


def _committed_after_all(group: list[_Command], error: BaseException) -> bool:
    """Resolve an ambiguous failure by looking the outcome up (the first command that can)."""
    for command in group:
        if command.committed is not None:
            return command.committed(error)
    return False
