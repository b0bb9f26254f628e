"""A real Tunehub server in a subprocess on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.postgres import free_port

BIN = Path(sys.executable).parent


def tunehub_cmd(*args: str) -> list[str]:
    return [str(BIN / "tunehub"), *args]


def env_for(database_url: str) -> dict[str, str]:
    return {**os.environ, "TUNEHUB_DATABASE_URL": database_url}


def upgrade(database_url: str) -> None:
    subprocess.run(
        tunehub_cmd("db", "upgrade"), env=env_for(database_url), check=True, capture_output=True
    )


@contextmanager
def live_server(
    database_url: str,
    *,
    workers: int = 1,
    log: Path | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[str]:
    """Run ``tunehub server`` on ``database_url``; yield its base URL once it answers."""
    port = port or free_port()
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        tunehub_cmd(
            "server", "--port", str(port), "--workers", str(workers), "--log-level", "warning"
        ),
        env={**env_for(database_url), **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT if log else subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]


def wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {err}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not answer within {timeout} s")
