"""The gp latency benchmark runs end to end and writes its JSON (no speed asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.bench import run_bench


def test_small_sizes_on_both_sides(tmp_path: Path) -> None:
    output = tmp_path / "gp_latency.json"
    done = run_bench(
        "gp_latency", "--sizes", "12,16", "--asks", "2", "--memory-at", "20", "--out", str(output)
    )
    assert "| 12 |" in done.stdout and "| 16 |" in done.stdout
    results = json.loads(output.read_text())
    assert [row["size"] for row in results["rows"]] == [12, 16]
    for row in results["rows"]:
        assert row["tunehub"]["p50_s"] > 0 and row["optuna"]["p50_s"] > 0
    assert 50 < results["server_peak_rss_mib"] < 4096
