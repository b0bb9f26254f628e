"""The workers benchmark runs end to end and writes its JSON (a smoke test, no speed asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("ray")


def test_a_few_trials_on_both_sides(tmp_path: Path) -> None:
    output = tmp_path / "workers.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.workers", "--trials", "4", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| Tunehub (`tunehub worker`" in done.stdout
    results = json.loads(output.read_text())
    assert all(v > 0 for side in results["trials_per_second"].values() for v in side)
    assert results["ratio"] > 0
