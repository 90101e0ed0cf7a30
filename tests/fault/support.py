"""Helpers of the fault tests (issue #7): a live `kasane serve` process, read-model snapshots."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

import service
from service.application.kasane import Kasane
from tests.golden.history import read_models

KASANE = Path(sys.executable).parent / "kasane"
CENTER = {"X-API-Key": "dev-center"}
CITY = {"X-API-Key": "dev-municipality"}
CASE = {
    "referral": {
        "route": "referral",
        "referrer_agency_id": "demo-general-support-center",
        "referrer_kind": "community_general_support_center",
        "received_on": "2026-04-01",
        "reason": "unpaid bills",
        "concerns": ["介護"],
    },
    "person": {"name": "山田ハナ", "name_kana": "やまだ はな", "birth_date": "1944-05-10"},
    "household": [],
}


def free_port() -> int:
    """Return a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def explanation(note: str, expected_version: int | None = None) -> dict[str, Any]:
    """Return the body of an explanation command carrying `note`."""
    body: dict[str, Any] = {"kind": "explanation", "on": "2026-04-02", "note": note}
    if expected_version is not None:
        body["expected_version"] = expected_version
    return body


class LiveServer:
    """`kasane serve` (migrate, then uvicorn) in its own process on a fixed loopback port."""

    def __init__(self, database_url: str, workdir: Path, **env: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.log_path = workdir / "server.log"
        # The server runs the code under test, also when another checkout is installed.
        source = str(Path(service.__file__).resolve().parents[1])
        path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
        self.env = {
            **os.environ,
            "PYTHONPATH": path,
            "KASANE_DATABASE_URL": database_url,
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it answers /health."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(KASANE), "serve", "--port", str(self.port)],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=2) as probe:
            while True:
                assert self.process.poll() is None, self.log_path.read_text(errors="replace")
                try:
                    if probe.get("/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the server: no shutdown handler, no flush, no goodbye."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """Stop the server politely, if it runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None


def read_model_snapshot(app: Kasane) -> dict[str, Any]:
    """Every read-model row and the tracked position; sealed data compared opened (its nonces
    differ per sealing)."""
    return read_models(app)
