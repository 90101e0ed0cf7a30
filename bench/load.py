"""A small HTTP/1.1 load generator: N keep-alive connections, each sending its next request as
soon as the previous answer arrived (closed loop, like `wrk -c N`).

Run as its own process so the server's CPU is not shared with the client inside one
interpreter: `python -m bench.load SPEC.json`, printing one JSON line of results.
SPEC: {host, port (or ports: one per instance, the connections spread over them), connections,
       warmup, duration, mode: "noop"|"command", key, path, body,
       cases: [[case_id, version], …] (command mode: each connection owns a slice)}.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from typing import Any

_VERSION = re.compile(rb'"version":(\d+)')


class Connection:
    """One keep-alive connection sending one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send one request; return (status, body)."""
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
                break
        body = await self.reader.readexactly(length) if length else b""
        return status, body


def _request(host: str, port: int, path: str, key: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nX-API-Key: {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


async def _worker(
    spec: dict[str, Any],
    slot: int,
    measure_from: float,
    stop_at: float,
    latencies: list[float],
    errors: dict[int, int],
) -> None:
    host, key = spec["host"], spec["key"]
    ports = spec.get("ports") or [spec["port"]]
    port = ports[slot % len(ports)]  # several instances: the connections are spread over them
    reader, writer = await asyncio.open_connection(host, port)
    conn = Connection(reader, writer)
    body = json.dumps(spec["body"], ensure_ascii=False).encode()
    cases = [list(c) for c in spec.get("cases", [])[slot :: spec["connections"]]]
    i = 0
    try:
        while True:
            started = time.perf_counter()
            if started >= stop_at:
                return
            if spec["mode"] == "noop":
                raw = _request(host, port, spec["path"], key, body)
                case = None
            else:
                case = cases[i % len(cases)]
                i += 1
                path = spec["path"].format(case_id=case[0])
                raw = _request(host, port, path, key, body, f'If-Match: "{case[1]}"\r\n')
            status, answer = await conn.request(raw)
            finished = time.perf_counter()
            measured = started >= measure_from and finished <= stop_at
            if status != 200 and status != 201:
                if measured:
                    errors[status] = errors.get(status, 0) + 1
                continue
            if case is not None:
                found = _VERSION.search(answer)
                if found:
                    case[1] = int(found.group(1))
            if measured:  # only answered commands count, with their latency
                latencies.append(finished - started)
    finally:
        writer.close()


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Drive the load described by `spec`; return requests/s and latency percentiles."""
    now = time.perf_counter()
    measure_from = now + spec["warmup"]
    stop_at = measure_from + spec["duration"]
    latencies: list[float] = []
    errors: dict[int, int] = {}
    await asyncio.gather(
        *(
            _worker(spec, slot, measure_from, stop_at, latencies, errors)
            for slot in range(spec["connections"])
        )
    )
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "rps": len(latencies) / spec["duration"],
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "errors": errors,
    }


def main() -> None:
    """Read the spec, run, print the result as one JSON line."""
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        pass
    print(json.dumps(asyncio.run(run(spec))))


if __name__ == "__main__":
    main()
