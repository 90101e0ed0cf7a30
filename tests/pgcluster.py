"""A throw-away PostgreSQL cluster for the test suite.

`python -m tests.pgcluster run -- COMMAND…` starts a cluster in a temporary directory (as a
non-root user, on a free loopback port), runs COMMAND with `KASANE_TEST_POSTGRES` set to the
server's URL, stops the cluster and exits with COMMAND's status.
`python -m tests.pgcluster found` exits 0 when the PostgreSQL binaries can be found.

Importable: `with PostgresCluster() as cluster: cluster.url` does the same in Python.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

USER = "kasane"  # the database superuser the cluster is initialised with
SERVICE_ACCOUNT = "kasane-pg"  # the OS user that runs the server when we are root


def find_binaries() -> Path | None:
    """Return the directory holding initdb and pg_ctl (PATH first, then Debian's layout)."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    for directory in candidates:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    return None


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _service_user() -> str | None:
    """Return the OS user to run PostgreSQL as (None: ourselves, when not root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_ACCOUNT)
    except KeyError:
        useradd = shutil.which("useradd")
        if useradd is None:
            return "nobody"
        subprocess.run(
            [
                useradd,
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_ACCOUNT,
            ],
            check=True,
            capture_output=True,
        )
    return SERVICE_ACCOUNT


class PostgresCluster:
    """A PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 only."""

    def __init__(self, port: int | None = None) -> None:
        bindir = find_binaries()
        if bindir is None:
            raise RuntimeError("PostgreSQL binaries not found (initdb, pg_ctl)")
        self.bindir = bindir
        self.port = port or free_port()
        self.user = _service_user()
        # as root, under /tmp: the service account must reach it (and a socket path stays short)
        self.tmpdir = Path(
            tempfile.mkdtemp(prefix="kasane-pg-", dir="/tmp" if self.user is not None else None)
        )
        self.datadir = self.tmpdir / "data"
        self.logfile = self.tmpdir / "postgres.log"
        self.started = False

    @property
    def url(self) -> str:
        """Return the SQLAlchemy URL of the server's `postgres` database."""
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.tmpdir)
        if result.returncode != 0:
            log = self.logfile.read_text() if self.logfile.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}{log}"
            )

    def start(self) -> PostgresCluster:
        """Initialise the cluster and start the server; return self."""
        if self.user is not None:
            shutil.chown(self.tmpdir, user=self.user)
        self.tmpdir.chmod(0o700)
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "--auth=trust",
            f"--username={USER}",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        for attempt in range(3):  # the free port may be taken between our probe and the bind
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.logfile),
                    "-w",
                    "-o",
                    self._options(),
                    "start",
                )
                break
            except RuntimeError:
                if attempt == 2:
                    raise
                self.port = free_port()
        self.started = True
        return self

    def _options(self) -> str:
        return (
            # Durable like production (fsync, full page writes, synchronous commit): the
            # service refuses a server that could lose an acknowledged command.
            f"-k {self.tmpdir} -h 127.0.0.1 -p {self.port} -c max_connections=200"
        )

    def halt(self) -> None:
        """Stop the server as a crash would (immediate mode), keeping its data: see `resume`."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")

    def resume(self) -> None:
        """Start the halted server again on the same port (it recovers from its WAL)."""
        self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-l",
            str(self.logfile),
            "-w",
            "-o",
            self._options(),
            "start",
        )

    def stop(self) -> None:
        """Stop the server (immediate mode) and remove the directory."""
        try:
            if self.started:
                self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
                self.started = False
        finally:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    """Entry point: `found` or `run -- COMMAND…`."""
    if argv[:1] == ["found"]:
        return 0 if find_binaries() is not None else 1
    if argv[:1] == ["run"]:
        command = argv[1:]
        if command[:1] == ["--"]:
            command = command[1:]
        if not command:
            print("usage: python -m tests.pgcluster run -- COMMAND…", file=sys.stderr)
            return 2
        started = time.monotonic()
        # a SIGTERM (CI cancelling the job) still stops the cluster and removes its directory
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        with PostgresCluster() as cluster:
            print(
                f"PostgreSQL cluster on {cluster.url} ({cluster.bindir}, "
                f"{time.monotonic() - started:.1f} s to start)",
                file=sys.stderr,
            )
            env = {**os.environ, "KASANE_TEST_POSTGRES": cluster.url}
            return subprocess.call(command, env=env)
    print("usage: python -m tests.pgcluster (found | run -- COMMAND…)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
