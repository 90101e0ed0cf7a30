"""Outreach and participation support engagements (R-OUT, R-PAR)."""

from __future__ import annotations


class EngagementCommands:
    """Mixed into `Kasane`; uses its `_commit`, `_load` and `repository`."""
