"""A command without an expected version runs again on the fresh version when it lost a race."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from service.domain.errors import VersionConflict

R = TypeVar("R")

# Tries of a command that named no expected version, when other writers keep saving first.
TRIES = 3
# Longest pause before a second try, doubled before each further one; a random part of it is
# slept, so that two writers that collided don't collide again in step.
BACKOFF_SECONDS = 0.01


def on_fresh_version(expected_version: int | None, attempt: Callable[[], R]) -> R:
    """Run `attempt` (load, decide, commit); without an expected version, run it again when
    another writer saved first (up to TRIES times): the client asked for no expectation.

    With an expected version the conflict is the client's to resolve: raised at once.
    """
    tries = 1 if expected_version is not None else TRIES
    for n in range(1, tries + 1):
        try:
            return attempt()
        except VersionConflict:
            if n == tries:
                raise
            time.sleep(random.uniform(0, BACKOFF_SECONDS * 2 ** (n - 1)))
    raise AssertionError("unreachable")  # pragma: no cover
