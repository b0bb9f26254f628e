"""The multi-fidelity benchmark runs end to end: every run scored, the report and plots written.

A smoke test only: a tenth of the budget and one seed check the harness, the
server path and the adapters, never how well anything optimizes.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.bench import run_bench

OPTIMIZERS = ("tunehub-asha", "tunehub-dehb", "optuna-hyperband", "random")


def test_a_small_run_writes_results_report_and_plots(tmp_path: Path) -> None:
    out = tmp_path
    run_bench(
        "multifidelity",
        "--problems",
        "branin-mf,curves",
        "--optimizers",
        ",".join(OPTIMIZERS),
        "--seeds",
        "1",
        "--budget-scale",
        "0.1",
        "--out",
        str(out),
    )
    results = json.loads((out / "results.json").read_text())
    runs = {(r["problem"], r["optimizer"]): r for r in results["runs"]}
    assert set(runs) == {(p, o) for p in ("branin-mf", "curves") for o in OPTIMIZERS}
    for (problem, optimizer), run in runs.items():
        assert run["status"] == "ok", run.get("message")
        total = 3 * (27 if problem == "branin-mf" else 81)  # 10% of 30 max-budget evaluations
        assert run["spent"] >= total, (problem, optimizer, run["spent"])
        assert run["evaluations"] and all(e["budget"] > 0 for e in run["evaluations"])
        if optimizer.startswith("tunehub-"):  # promotions resume: less spent than trained
            trained = sum(e["budget"] for e in run["evaluations"])
            assert trained >= run["spent"]
    report = (out / "report.md").read_text()
    assert "## Budget to target" in report and "tunehub-dehb" in report
    for problem in ("branin-mf", "curves"):
        assert (out / f"{problem}.png").stat().st_size > 10_000
