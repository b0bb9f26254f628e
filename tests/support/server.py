"""A real Tunehub server in a subprocess on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
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
    args: Sequence[str] = (),
) -> Iterator[str]:
    """Run ``tunehub server`` on ``database_url`` (with more ``args``, such as ``--host``);
    yield its loopback base URL once it answers."""
    port = port or free_port()
    # Never a pipe nobody reads: a server that logs 64 KB would block on its next write.
    out = open(log, "wb") if log else tempfile.TemporaryFile()  # noqa: SIM115
    proc = subprocess.Popen(
        tunehub_cmd(
            "server",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            *args,
        ),
        env={**env_for(database_url), **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_up(url, proc)
        except RuntimeError as error:
            out.seek(0)
            said = out.read().decode(errors="replace")
            raise RuntimeError(f"{error}\n{said[-4000:]}") from None
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


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
