"""Worklists of what is due and the state report (R-SUP-2, R-RPT-1)."""

from __future__ import annotations


class WorklistQueries:
    """Mixed into `Kasane`; uses its `_commit`, `_load` and `repository`."""
