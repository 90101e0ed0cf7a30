"""Group commit: concurrent commands share a transaction, each returns once its group committed,
a failing command fails alone (the others are written again, each in its own transaction), and
a failure of the database itself fails the whole group at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError as StoreOperationalError
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError

from service.application.group_commit import GroupCommit


class _Store:
    """A fake database: writes land in a transaction's buffer, visible once it commits."""

    def __init__(self, delay: float = 0.0) -> None:
        self.committed: list[str] = []
        self.transactions: list[list[str]] = []
        self.settled = 0
        self.delay = delay
        self.lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[list[str]]:
        buffer: list[str] = []
        yield buffer  # an exception here rolls the buffer back
        time.sleep(self.delay)  # the disk sync
        with self.lock:
            self.committed += buffer
            self.transactions.append(buffer)

    def settle(self) -> None:
        self.settled += 1


class _Aggregate:
    def __init__(self, events: list[str]) -> None:
        self.pending_events = list(events)


def _group(store: _Store, max_group: int = 64) -> GroupCommit:
    return GroupCommit(store.transaction, store.settle, max_group=max_group)


def _write(store: _Store, name: str, aggregate: _Aggregate | None = None) -> Any:
    def write(buffer: Any) -> None:
        if aggregate is not None:  # saving collects the aggregate's pending events
            buffer.extend(aggregate.pending_events)
            aggregate.pending_events.clear()
        if name.startswith("bad"):
            raise ValueError(name)
        buffer.append(name)

    return write


def test_each_command_returns_after_its_transaction_committed() -> None:
    """Durability: no submit returns before its write is committed; concurrent ones group."""
    store = _Store(delay=0.02)
    group = _group(store)
    seen_after_return: dict[str, bool] = {}

    def run(name: str) -> None:
        group.submit(_write(store, name), [])
        seen_after_return[name] = name in store.committed

    threads = [threading.Thread(target=run, args=(f"c{i}",)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(seen_after_return.values()) and len(seen_after_return) == 24
    assert sorted(store.committed) == sorted(f"c{i}" for i in range(24))
    assert len(store.transactions) < 24  # some commands shared a transaction (one sync)
    assert store.settled == len(store.transactions)


def test_a_queue_longer_than_a_group_leaves_no_command_unwritten() -> None:
    """Every submit is written even when its leader's group was full of older commands."""
    store = _Store(delay=0.005)
    group = _group(store, max_group=2)
    threads = [
        threading.Thread(target=group.submit, args=(_write(store, f"c{i}"), [])) for i in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(store.committed) == sorted(f"c{i}" for i in range(20))
    assert all(len(t) <= 2 for t in store.transactions)


def test_a_failing_command_fails_alone_and_the_others_are_written() -> None:
    """One command's error reaches that command only; the rest of its group commits."""
    store = _Store()
    group = _group(store)
    good = _Aggregate(["event-1"])
    errors: dict[str, BaseException] = {}
    entered = threading.Event()
    release = threading.Event()

    def slow_first(buffer: Any) -> None:  # holds the first transaction while others queue
        entered.set()
        release.wait(5)
        buffer.append("first")

    def run(name: str, write: Any, aggregates: list[Any]) -> None:
        try:
            group.submit(write, aggregates)
        except BaseException as exc:
            errors[name] = exc

    first = threading.Thread(target=run, args=("first", slow_first, []))
    first.start()
    assert entered.wait(5)
    queued = [
        threading.Thread(target=run, args=("good", _write(store, "good", good), [good])),
        threading.Thread(target=run, args=("bad", _write(store, "bad-1"), [])),
    ]
    for t in queued:
        t.start()
    time.sleep(0.1)  # both queued behind the first transaction: they form the next group
    release.set()
    for t in [first, *queued]:
        t.join()
    assert set(errors) == {"bad"} and isinstance(errors["bad"], ValueError)
    # the good command's events were put back after the failed group and written once
    assert store.committed.count("event-1") == 1 and "good" in store.committed
    assert "bad-1" not in store.committed


def test_a_single_failing_command_raises_its_own_error() -> None:
    """A group of one raises the write's exception unchanged, after a rollback."""
    store = _Store()
    with pytest.raises(ValueError, match="bad-alone"):
        _group(store).submit(_write(store, "bad-alone"), [])
    assert store.committed == [] and store.settled == 1


def test_an_ambiguous_failure_is_looked_up_before_any_retry() -> None:
    """Issue #12: the connection lost during COMMIT of a group that did commit: the commands'
    look-up says so, and none is written again (which would answer a false conflict)."""
    store = _Store()
    real = store.transaction
    failures = iter([True])

    @contextmanager
    def lost_after_commit() -> Iterator[list[str]]:
        with real() as buffer:
            yield buffer
        if next(failures, False):
            raise ConnectionError("lost during COMMIT")

    group = GroupCommit(lost_after_commit, store.settle)
    group.submit(_write(store, "c1"), [], lambda error: "c1" in store.committed)
    assert store.committed == ["c1"] and len(store.transactions) == 1

    failures = iter([True])
    with pytest.raises(ConnectionError):  # not committed after all: the error stands
        group.submit(_write(store, "c2"), [], lambda error: False)


class _LockedStore(_Store):
    """A fake database whose every commit fails after a lock wait, as under another writer."""

    def __init__(self, wait: float) -> None:
        super().__init__()
        self.wait = wait
        self.attempts = 0

    @contextmanager
    def transaction(self) -> Iterator[list[str]]:
        with self.lock:
            self.attempts += 1
        yield []
        time.sleep(self.wait)  # the busy timeout
        raise StoreOperationalError("database is locked")


def test_a_shared_failure_fails_the_whole_group_at_once_without_retries() -> None:
    """A lock timeout (the database's failure, not one command's) reaches every command of the
    group and those queued meanwhile after one wait: no command waits a second timeout."""
    wait = 0.2
    store = _LockedStore(wait)
    group = _group(store)
    errors: dict[str, BaseException] = {}
    took: dict[str, float] = {}

    def run(name: str) -> None:
        started = time.monotonic()
        try:
            group.submit(_write(store, name, _Aggregate([f"{name}-event"])), [])
        except BaseException as exc:
            errors[name] = exc
        took[name] = time.monotonic() - started

    threads = [threading.Thread(target=run, args=(f"c{i}",)) for i in range(8)]
    for t in threads:
        t.start()
        time.sleep(0.01)  # the first leads, the others queue behind its lock wait
    for t in threads:
        t.join()
    assert set(errors) == {f"c{i}" for i in range(8)}
    assert all(isinstance(e, StoreOperationalError) for e in errors.values())
    assert store.attempts <= 2  # the first group, maybe one more; never one per command
    assert max(took.values()) < wait + 0.15, took
    assert store.committed == []


def test_a_lost_connection_in_a_group_is_not_retried_command_by_command() -> None:
    """A connection lost mid-group fails the group with that error: retrying each command could
    answer a conflict for a command that in fact committed."""
    store = _Store()
    attempts: list[int] = []
    entered = threading.Event()
    release = threading.Event()
    errors: dict[str, BaseException] = {}

    def lost(buffer: Any) -> None:
        attempts.append(1)
        raise SQLAlchemyOperationalError("COMMIT", {}, ConnectionError("server closed"))

    def slow_first(buffer: Any) -> None:
        entered.set()
        release.wait(5)
        buffer.append("first")

    def run(name: str, write: Any) -> None:
        try:
            group.submit(write, [])
        except BaseException as exc:
            errors[name] = exc

    group = _group(store)
    first = threading.Thread(target=run, args=("first", slow_first))
    first.start()
    assert entered.wait(5)
    queued = [
        threading.Thread(target=run, args=("good", _write(store, "good"))),
        threading.Thread(target=run, args=("lost", lost)),
    ]
    for t in queued:
        t.start()
    time.sleep(0.1)  # both queued: they form the next group
    release.set()
    for t in [first, *queued]:
        t.join()
    assert set(errors) == {"good", "lost"} and errors["good"] is errors["lost"]
    assert len(attempts) == 1 and "good" not in store.committed
