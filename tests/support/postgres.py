"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl on a free loopback port."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_pg_bin() -> Path | None:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@dataclass
class PostgresCluster:
    """One PostgreSQL data directory and the commands that stop and start its server."""

    bin_dir: Path
    root: Path
    port: int
    options: str
    run_as: list[str]

    @property
    def prefix(self) -> str:
        """A URL prefix: add a database name."""
        return f"postgresql://tunehub@127.0.0.1:{self.port}/"

    def _ctl(self, *args: str, check: bool = True) -> None:
        command = [*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data")]
        subprocess.run([*command, *args], check=check, capture_output=True)

    def start(self) -> None:
        self._ctl("-o", self.options, "-w", "-l", str(self.root / "log"), "start")

    def stop(self, mode: str = "fast") -> None:
        """``immediate`` is a crash: no checkpoint, clients cut off mid-transaction."""
        self._ctl("-m", mode, "-w", "stop", check=False)


@contextmanager
def postgres_cluster(*, durable: bool = False) -> Iterator[PostgresCluster]:
    """Start PostgreSQL in a fresh data directory; remove it afterwards.

    Not ``durable`` (the default) trades commits on crash for speed; ``durable``
    runs as PostgreSQL ships (fsync and synchronous commit on).
    """
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise RuntimeError("initdb not found: install PostgreSQL (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="tunehub-pg-"))
    sockets = root / "sock"
    sockets.mkdir()
    run_as: list[str] = []
    if os.geteuid() == 0:
        # initdb refuses to run as root: run the server as the postgres (or nobody) user.
        user = "postgres" if _user_exists("postgres") else "nobody"
        entry = pwd.getpwnam(user)
        for path in (root, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        run_as = ["runuser", "-u", user, "--"]
    subprocess.run(
        [
            *run_as,
            str(bin_dir / "initdb"),
            "-D",
            str(root / "data"),
            "-U",
            "tunehub",
            "-A",
            "trust",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    speed = "" if durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 {speed}-c max_connections=300"
    cluster = PostgresCluster(bin_dir, root, port, options, run_as)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start PostgreSQL; yield a URL prefix ``postgresql://tunehub@127.0.0.1:PORT/``."""
    with postgres_cluster() as cluster:
        yield cluster.prefix


def create_database(prefix: str, name: str) -> str:
    import psycopg

    with psycopg.connect(prefix + "postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return prefix + name


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
