"""A real PostgreSQL (Debian's `postgresql` package) in a temporary directory on a free loopback port.

Run as `nobody` when the tests run as root (postgres refuses root); stopped and removed by the fixture.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any


def find_bin(name: str) -> str | None:
    """Debian keeps the server binaries out of PATH, in /usr/lib/postgresql/<version>/bin."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        initdb, postgres = find_bin("initdb"), find_bin("postgres")
        if initdb is None or postgres is None:
            raise FileNotFoundError("initdb/postgres not found (apt-get install postgresql)")
        self._postgres = postgres
        self.dir = Path(tempfile.mkdtemp(prefix="plano-pg-"))
        self.port = free_port()
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
            self._as = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        subprocess.run([initdb, "-D", str(self.dir / "data"), "-U", "postgres", "-A", "trust", "--no-sync",
                        "-E", "UTF8", "--locale=C"], check=True, capture_output=True, cwd=self.dir, **self._as)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [self._postgres, "-D", str(self.dir / "data"), "-h", "127.0.0.1", "-p", str(self.port),
             "-k", str(self.dir), "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=50"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.dir, **self._as)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self._proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
                time.sleep(0.3)  # listening is not yet accepting logins; asyncpg retries are the test's job
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("postgres did not start within 30 s")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)  # fast shutdown: open client connections are cut
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
