"""The service as `kasane serve` builds it, plus one trivial endpoint: the command path's floor.

`uvicorn bench.server:create --factory` serves it. The endpoint exists only in this factory,
never in `service.main`, so the OpenAPI document and the routes of the service are unchanged.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

from service.main import create_app

NOOP_PATH = "/bench/noop"


def create() -> FastAPI:
    """Return the service's app with the do-nothing endpoint mounted."""
    app = create_app()
    if "BENCH_MAX_GROUP" in os.environ:  # A/B of group commit (1: a transaction per command)
        app.state.kasane._group_commit._max_group = int(os.environ["BENCH_MAX_GROUP"])

    @app.post(NOOP_PATH, include_in_schema=False)
    async def noop() -> dict[str, Any]:
        """Do nothing (the body is not even read): the floor of an HTTP round trip here."""
        return {"ok": True}

    return app
