"""Municipality registers: participation hosts and community issues (R-PAR-3, R-RES-1)."""

from __future__ import annotations


class RegisterCommands:
    """Mixed into `Kasane`; uses its `_commit`, `_load` and `repository`."""
