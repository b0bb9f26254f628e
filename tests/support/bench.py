"""Running a benchmark module the way its README line does, for the smoke tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def bench_process(
    module: str, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m bench.<module> ARGS`` from the repository root, whatever its exit status."""
    return subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_bench(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``bench_process`` that fails the test on error."""
    done = bench_process(module, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done
