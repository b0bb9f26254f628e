"""The whole system on one machine: server, example study, and a Ray worker running it.

``make run`` starts this. The server keeps serving after the worker's trials are
done; Ctrl-C (or SIGTERM) lets running trials end, then stops the worker and
the server.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import httpx

import tunehub

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from examples.mlp_digits import STUDY, create_study  # noqa: E402

BIN = Path(sys.executable).parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--trials", type=int, default=100, help="trials the worker runs")
    parser.add_argument("--no-worker", action="store_true", help="serve only")
    args = parser.parse_args()
    url = f"http://{args.host}:{args.port}"
    signal.signal(signal.SIGTERM, _interrupt)
    # Own sessions: a Ctrl-C reaches only this launcher, which stops the worker first
    # (its trials get their grace period), then the server.
    server = subprocess.Popen(
        [str(BIN / "tunehub"), "server", "--host", args.host, "--port", str(args.port)],
        start_new_session=True,
    )
    worker: subprocess.Popen[bytes] | None = None
    try:
        _wait_until_up(url, server)
        if not args.no_worker:
            with tunehub.Client(url) as client:
                create_study(client)
            print(
                f"tunehub: study {STUDY!r} runs on a local Ray worker; "
                f"watch it in the dashboard at {url}/ or with `tunehub studies show {STUDY}`",
                flush=True,
            )
            worker = subprocess.Popen(
                [
                    str(BIN / "tunehub"),
                    "worker",
                    "--study",
                    STUDY,
                    "--entrypoint",
                    "examples.mlp_digits:train",
                    "--max-trials",
                    str(args.trials),
                    "--url",
                    url,
                ],
                env={**os.environ, "TUNEHUB_URL": url},
                cwd=ROOT,  # where examples.mlp_digits imports from
                start_new_session=True,
            )
            worker.wait()
        server.wait()
    except KeyboardInterrupt:
        for name, process in (("worker", worker), ("server", server)):
            if process is not None:
                _stop(name, process)
    return 0


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _stop(name: str, process: subprocess.Popen[bytes]) -> None:
    """Ask for a clean stop, then insist."""
    if process.poll() is None:
        print(f"tunehub: stopping the {name}", file=sys.stderr, flush=True)
        process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        print(f"tunehub: the {name} did not stop within 60 s: killing it", file=sys.stderr)
        process.kill()
        process.wait()
    else:
        took = time.monotonic() - started
        print(f"tunehub: the {name} stopped in {took:.1f} s", file=sys.stderr, flush=True)


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"tunehub server exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"tunehub server did not answer on {url}")


if __name__ == "__main__":
    raise SystemExit(main())
