"""A real Tunehub server in a subprocess, as users run it.

Benchmarks go through the ``tunehub server`` command (uvicorn, SQLite migrated
on start) rather than an in-process app, so the numbers include HTTP and the
process boundary that every client pays.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx


def _tunehub_command() -> list[str]:
    """The installed ``tunehub`` script next to this interpreter, else the module."""
    script = Path(sys.executable).with_name("tunehub")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tunehub.cli"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def tunehub_server(
    database_url: str, *, workers: int = 1, log_path: Path | None = None
) -> Iterator[str]:
    """Start ``tunehub server`` on a free loopback port; yields its base URL."""
    with tunehub_server_process(database_url, workers=workers, log_path=log_path) as (url, _):
        yield url


@contextlib.contextmanager
def server_if(needed: bool, database: Path) -> Iterator[str | None]:
    """``tunehub_server`` on a SQLite file when ``needed``, else ``None`` (peers-only runs)."""
    if not needed:
        yield None
        return
    with tunehub_server(f"sqlite:///{database}") as url:
        yield url


@contextlib.contextmanager
def tunehub_server_process(
    database_url: str, *, workers: int = 1, log_path: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``tunehub_server``, also yielding the process (to read its memory, say).

    The server's output goes to ``log_path`` (or is discarded) so a chatty log
    cannot block on a full pipe and slow the server down.
    """
    port = free_port()
    command = [
        *_tunehub_command(),
        "server",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--database-url",
        database_url,
        "--log-level",
        "warning",
    ]
    url = f"http://127.0.0.1:{port}"
    with contextlib.ExitStack() as stack:
        log: IO[bytes] | int = (
            stack.enter_context(open(log_path, "wb")) if log_path else subprocess.DEVNULL
        )
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_healthy(url, process, log_path)
            yield url, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(
    url: str, process: subprocess.Popen[bytes], log_path: Path | None, timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            detail = log_path.read_text(errors="replace")[-2000:] if log_path else ""
            raise RuntimeError(f"tunehub server exited with {process.returncode}\n{detail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/api/v1/health", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"tunehub server at {url} not healthy after {timeout:g} s")
