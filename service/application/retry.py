"""A command without an expected version runs again on the fresh version when it lost a race."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from service.domain.errors import VersionConflict

R = TypeVar("R")

# Tries of a command that named no expected version, when other writers keep saving first.
TRIES = 3


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
    raise AssertionError("unreachable")  # pragma: no cover
