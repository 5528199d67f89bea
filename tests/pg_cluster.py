"""A throwaway PostgreSQL 15 cluster for tests: initdb in a temp dir, started and stopped.

The server refuses to run as root, so under root it runs as ``nobody`` through ``runuser``.
When the binaries (or runuser) are absent, ``start`` returns a reason to skip instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BIN_DIRS = [os.environ.get("GAIT_PG_BIN", ""), "/usr/lib/postgresql/15/bin"]


@dataclass
class Cluster:
    root: Path
    bindir: Path
    port: int
    user_prefix: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://gait@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.user_prefix, str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def restart(self) -> None:
        done = self._ctl("restart", "-m", "fast", "-w", "-l", str(self.root / "log"))
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl restart failed: {done.stderr}")

    def stop(self) -> None:
        self._ctl("stop", "-m", "immediate", "-w")
        shutil.rmtree(self.root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start() -> Cluster | str:
    """A running cluster, or the reason there cannot be one here."""
    bindir = next((Path(d) for d in BIN_DIRS if d and (Path(d) / "initdb").exists()), None)
    if bindir is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/15/bin"
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="gait-pg-"))
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            return "running as root and runuser is missing: cannot start PostgreSQL unprivileged"
        prefix = [runuser, "-u", "nobody", "--"]
        shutil.chown(root, "nobody")
    root.chmod(0o700)
    data = root / "data"
    init = subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "gait",
            "--no-locale",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if init.returncode != 0:
        return f"initdb failed: {init.stderr.strip()[:200]}"
    port = _free_port()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    cluster = Cluster(root, bindir, port, prefix)
    started = cluster._ctl("start", "-w", "-t", "60", "-o", options, "-l", str(root / "log"))
    if started.returncode != 0:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        return f"pg_ctl start failed: {started.stderr.strip()[:200]} {log[-300:]}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return cluster
        except OSError:
            time.sleep(0.1)
    return "PostgreSQL did not accept connections in 30 s"
