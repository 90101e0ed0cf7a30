"""The clock the application reads "today" from, injectable so that tests control time.

Business dates (monitoring dates, decision and contact dates) are carried by the commands; the
clock only answers what day it is now, e.g. which worklist items are overdue (R-SUP-2). Stored
event timestamps stay the time of recording from the system clock: they are audit evidence in
the hash chain, and a settable clock must never be able to backdate them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from threading import Lock
from typing import Protocol
from zoneinfo import ZoneInfo

# Dates of the programme are Japanese calendar days: a worklist turns over at midnight in Japan.
JST: tzinfo = ZoneInfo("Asia/Tokyo")


class Clock(Protocol):
    """Tells the time: `now()` is timezone-aware, `today()` is the calendar day in Japan."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware."""
        ...

    def today(self) -> date:
        """Return the current calendar day."""
        ...


class SystemClock:
    """The real time of the machine."""

    def __init__(self, zone: tzinfo = JST) -> None:
        self.zone = zone

    def now(self) -> datetime:
        """Return the current time in UTC."""
        return datetime.now(UTC)

    def today(self) -> date:
        """Return today's date in the clock's zone (Japan by default)."""
        return datetime.now(self.zone).date()


class ManualClock:
    """A clock that stands still until it is set or moved (tests, demonstrations)."""

    def __init__(self, at: datetime | date, zone: tzinfo = JST) -> None:
        self.zone = zone
        self._lock = Lock()
        self._now = self._aware(at)

    def _aware(self, at: datetime | date) -> datetime:
        if not isinstance(at, datetime):
            return datetime(at.year, at.month, at.day, 9, 0, tzinfo=self.zone)
        if at.tzinfo is None:
            raise ValueError("a clock's time must be timezone-aware")
        return at

    def now(self) -> datetime:
        """Return the time the clock was set to."""
        with self._lock:
            return self._now

    def today(self) -> date:
        """Return the day the clock was set to, in the clock's zone."""
        return self.now().astimezone(self.zone).date()

    def set(self, at: datetime | date) -> None:
        """Set the clock to `at` (a date means 09:00 of that day in the clock's zone)."""
        with self._lock:
            self._now = self._aware(at)

    def advance(self, *, days: int = 0, seconds: float = 0) -> None:
        """Move the clock forward (or back, with negative values)."""
        with self._lock:
            self._now += timedelta(days=days, seconds=seconds)


FixedClock = ManualClock  # the same clock; the name reads better where a test never moves it
