"""bench/carbs runs end to end: every optimizer spends its budget, report and plots written.

A smoke test only: 1/5000 of the cost and one seed check the ledger, the server
path and the adapters, never how well anything optimizes.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.carbs.optimizers import OPTIMIZERS
from tests.support.bench import run_bench


def test_a_small_run_writes_results_report_and_plots(tmp_path: Path) -> None:
    done = run_bench(
        "carbs",
        "--problems",
        "chinchilla",
        "--seeds",
        "1",
        "--budget-scale",
        "0.0002",
        "--out",
        str(tmp_path),
    )
    runs = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert {r["optimizer"] for r in runs} == set(OPTIMIZERS)
    for run in runs:
        assert run["status"] == "ok", run["message"]
        spent = run["evaluations"][-1]["spent"]
        assert spent >= run["total_cost"] or len(run["evaluations"]) == 300, run["optimizer"]
        before = run["evaluations"][-2]["spent"] if len(run["evaluations"]) > 1 else 0.0
        assert before < run["total_cost"]  # no evaluation starts once the budget is spent
    report = (tmp_path / "report.md").read_text()
    assert "tunehub-carbs" in report and "| chinchilla |" in report
    assert (tmp_path / "chinchilla.png").stat().st_size > 10_000
    assert "tunehub-carbs" in done.stdout


def test_the_committed_run_renders_the_readme_verdict(tmp_path: Path) -> None:
    """The README's table comes from the committed results: re-rendering them says so."""
    done = run_bench(
        "carbs", "--report-from", "bench/figures/carbs/results.json.gz", "--out", str(tmp_path)
    )
    for problem in ("chinchilla", "mlp-digits"):
        assert f"- {problem}: tunehub-carbs" in done.stdout
        line = next(x for x in done.stdout.splitlines() if x.startswith(f"- {problem}:"))
        assert line.endswith("higher? yes"), line
    assert "chinchilla n_params" in done.stdout
    assert (tmp_path / "mlp-digits.png").stat().st_size > 10_000
