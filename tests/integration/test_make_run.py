"""README's first command: `make run` serves the API, and trials of the example study flow in."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx

import tunehub
from tests.support.postgres import free_port
from tests.support.server import wait_until_up

ROOT = Path(__file__).resolve().parents[2]


def test_make_run_serves_the_api_and_runs_the_example_study(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TUNEHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'tunehub.db'}",
        "TUNEHUB_URL": url,
        "TUNEHUB_STORAGE": str(tmp_path / "checkpoints"),
    }
    log_path = tmp_path / "make-run.log"
    log = log_path.open("wb")  # a file, not a pipe: nobody reads a pipe while this waits
    proc = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
    try:
        wait_until_up(url, proc, timeout=600)  # the first run installs into .venv
        assert httpx.get(f"{url}/docs").status_code == 200
        assert "/api/v1/studies" in httpx.get(f"{url}/openapi.json").json()["paths"]
        assert '<script type="module" src="/dashboard/app.js">' in httpx.get(f"{url}/").text
        out = subprocess.run(
            ["bash", "examples/curl.sh"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        assert '"values":{"loss":0.2}' in out.stdout
        # The local Ray worker trains the example MLP: completed trials appear.
        with tunehub.Client(url) as client:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                names = [s.name for s in client.list_studies()]
                if "mlp-digits" in names:
                    done = client.get_study("mlp-digits").trials(tunehub.TrialState.COMPLETED)
                    if len(done) >= 3:
                        break
                time.sleep(1)
            else:
                raise AssertionError("no trial of the example study completed")
            assert all(t.metrics and t.metrics["device"] for t in done)
            # Ctrl-C (here SIGTERM) stops the worker cleanly, then the server.
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=150)  # the launcher gives each of its two processes 60 s
            except subprocess.TimeoutExpired:
                tail = log_path.read_text(errors="replace")[-4000:]
                raise AssertionError(f"make run did not stop; its log ends:\n{tail}") from None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()
    with httpx.Client() as check:  # the server is gone with it
        try:
            check.get(f"{url}/api/v1/health", timeout=2)
        except httpx.TransportError:
            pass
        else:
            raise AssertionError("the server still answers after make run was stopped")
    with sqlite3.connect(tmp_path / "tunehub.db") as db:
        states = dict(db.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall())
    assert "running" not in states and states.get("completed", 0) >= 3, states
