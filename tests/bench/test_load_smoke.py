"""bench/load at a few clients for a few seconds: both sides run, numbers come out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.bench import run_bench

pytestmark = pytest.mark.postgres


def test_load_runs_tunehub_and_optuna_on_postgres(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    args = ["--clients", "4", "--processes", "2", "--seconds", "3", "--warmup", "1"]
    done = run_bench("load", *args, "--output", str(out))
    results = json.loads(out.read_text())
    ours, theirs = results["sides"]["tunehub"], results["sides"]["optuna"]
    assert ours["errors"] == {} and ours["pairs"] > 0 and theirs["pairs"] > 0
    assert ours["latency_ms"]["ask"]["p99"] >= ours["latency_ms"]["ask"]["p50"] > 0
    assert "| tunehub |" in done.stdout and "Tunehub / Optuna throughput" in done.stdout
