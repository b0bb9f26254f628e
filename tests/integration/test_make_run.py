"""README's first command: `make run` serves the API and the curl example works against it."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx

from tests.support.postgres import free_port
from tests.support.server import wait_until_up

ROOT = Path(__file__).resolve().parents[2]


def test_make_run_serves_api_docs_and_curl_example(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TUNEHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'tunehub.db'}",
        "TUNEHUB_URL": url,
    }
    proc = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_until_up(url, proc, timeout=600)  # the first run installs into .venv
        assert httpx.get(f"{url}/docs").status_code == 200
        assert "/api/v1/studies" in httpx.get(f"{url}/openapi.json").json()["paths"]
        out = subprocess.run(
            ["bash", "examples/curl.sh"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        assert '"values":{"loss":0.2}' in out.stdout
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
