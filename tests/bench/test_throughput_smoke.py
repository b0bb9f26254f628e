"""The throughput benchmark runs end to end and writes its JSON.

A smoke test only: it checks the bench works, not how fast anything is
(speed is measured by ``bench/``, never asserted).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.bench import run_bench


def test_quick_run_writes_both_sides_and_latency(tmp_path: Path) -> None:
    output = tmp_path / "throughput.json"
    done = run_bench("throughput", "--quick", "--output", str(output))
    assert "| Tunehub server" in done.stdout

    results = json.loads(output.read_text())
    throughput = results["throughput"]
    for side in ("tunehub", "optuna", "optuna_wal"):
        assert throughput[side]["trials"] > 0, side
        assert throughput[side]["trials_per_second"] > 0, side
    assert throughput["ratio"] > 0

    points = results["latency"]["points"]
    assert [p["size"] for p in points] == sorted(p["size"] for p in points)
    assert len(points) == len(results["settings"]["sizes"])
    for point in points:
        assert point["asks"] > 0
        assert 0 < point["p50_ms"] <= point["p99_ms"]
