"""The README's walk-through runs as printed against a live server on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from service.cli import README


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _walkthrough() -> str:
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- walkthrough:begin -->", 1)[1].split("<!-- walkthrough:end -->", 1)[0]
    return block.split("```sh", 1)[1].rsplit("```", 1)[0]


def test_readme_walkthrough_runs_as_printed(tmp_path: Path, database_url: str) -> None:
    """Referral to closure over curl, as a case worker's system would do it."""
    port = _free_port()
    env = {**os.environ, "KASANE_DATABASE_URL": database_url}  # SQLite file or PostgreSQL
    kasane = Path(sys.executable).parent / "kasane"
    server = subprocess.Popen(
        [str(kasane), "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # up to 30 s: serve checks and migrates first
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", _walkthrough()],
            env={**env, "KASANE": base, "KASANE_CLI": str(kasane)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.returncode == 0, result.stderr + result.stdout
    lines = result.stdout.splitlines()
    assert lines[1:8] == [
        "referred",
        "assessment",
        "planning",
        "1",
        "in_support",
        "in_support",
        "closed",
    ]
    assert lines[8] == "demo-general-support-center"
    assert lines[9] == "1 CaseReferred 紹介受付"
    assert lines[-1] == "8 CaseClosed 終結"


def _block(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    begin, end = f"<!-- walkthrough:{name}:begin -->", f"<!-- walkthrough:{name}:end -->"
    block = text.split(begin, 1)[1].split(end, 1)[0]
    return block.split("```sh", 1)[1].rsplit("```", 1)[0]


def _serve_and_run(tmp_path: Path, database_url: str, script: str) -> subprocess.CompletedProcess:
    """Run `script` with bash against `kasane serve` on a free loopback port."""
    port = _free_port()
    env = {**os.environ, "KASANE_DATABASE_URL": database_url}
    kasane = Path(sys.executable).parent / "kasane"
    server = subprocess.Popen(
        [str(kasane), "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env={**env, "KASANE": base, "KASANE_CLI": str(kasane)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_R_OUT_3_R_PAR_4_readme_outreach_and_participation_walkthrough(
    tmp_path: Path, database_url: str
) -> None:
    """Outreach before consent (example 5) and participation support to periodic contact after
    closure (example 3), over curl as printed in the README."""
    result = _serve_and_run(tmp_path, database_url, _block("engagements"))
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.splitlines() == [
        "council_track",
        "reaching_out",
        "activity-1",
        "activity-2",
        "activity-3",
        "record_exceeds_council_track",
        "3",
        "awaiting_decision",
        "in_support",
        "intake",
        "planning",
        "1",
        "matching",
        "settling_in",
        "closed",
        "closed",
        "2027-03-01",
    ]
