"""The workers benchmark runs end to end and writes its JSON (a smoke test, no speed asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.bench import run_bench

pytest.importorskip("ray")


def test_a_few_trials_on_both_sides(tmp_path: Path) -> None:
    output = tmp_path / "workers.json"
    done = run_bench("workers", "--trials", "4", "--output", str(output))
    assert "| Tunehub (`tunehub worker`" in done.stdout
    results = json.loads(output.read_text())
    assert all(v > 0 for side in results["trials_per_second"].values() for v in side)
    assert results["ratio"] > 0
