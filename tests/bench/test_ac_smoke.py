"""bench/ac runs end to end: every tuner spends its solver time, every searcher its trials.

A smoke test only: a twentieth of the solver time and of the CASH trials, and
one seed check the ledger, the server path and the adapters, never how well
anything configures. SMAC runs when the ``bench`` extra is installed.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from bench.ac import cash, solver_problem
from bench.ac.harness import optimizers_of
from tests.support.bench import run_bench

SCALE = 0.05


def test_a_small_run_scores_every_tuner_and_searcher(tmp_path: Path) -> None:
    tuners = [
        t for t in optimizers_of("solvers") if t != "smac-ac" or importlib.util.find_spec("smac")
    ]
    searchers = list(optimizers_of("cash-breast_cancer"))
    done = run_bench(
        "ac",
        "--problems",
        "solvers,cash-breast_cancer",
        "--optimizers",
        ",".join(tuners + searchers),
        "--seeds",
        "1",
        "--budget-scale",
        str(SCALE),
        "--repeats",
        "1",
        "--out",
        str(tmp_path),
    )
    runs = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert {(r["problem"], r["optimizer"]) for r in runs} == {
        *(("solvers", t) for t in tuners),
        *(("cash-breast_cancer", s) for s in searchers),
    }
    budget = solver_problem.BUDGET * SCALE
    for run in runs:
        assert run["status"] == "ok", run["message"]
        if run["problem"] == "solvers":
            assert len(run["test_scores"]) == len(solver_problem.TEST)
            assert all(
                0 < s <= solver_problem.PAR * solver_problem.CUTOFF for s in run["test_scores"]
            )
            if run["optimizer"] == "default":
                assert run["runs"] == 0 and run["incumbent"] == solver_problem.DEFAULT
            else:  # spent the budget, and no run started after it was spent
                assert budget <= run["spent"] < budget + solver_problem.CUTOFF + 0.5
                assert run["runs"] > 1
        else:
            assert len(run["errors"]) == max(2, round(cash.TRIALS * SCALE))
            assert run["cv_error"] == min(run["errors"])
            assert 0.0 <= run["test_error"] < 0.5
    report = (tmp_path / "report.md").read_text()
    assert (
        "| tunehub-ac-race |" in report
        and "| breast_cancer | 2 | tunehub-rising-bandit |" in report
    )
    assert "- solvers: tunehub-ac-" in done.stdout
    assert "- cash-breast_cancer, 2 trials: rising-bandit" in done.stdout

    again = tmp_path / "rescored"
    run_bench(
        "ac",
        "--report-from",
        str(tmp_path / "results.json"),
        "--rescore",
        "--repeats",
        "1",
        "--out",
        str(again),
    )
    rescored = json.loads((again / "results.json").read_text())["runs"]
    for run in rescored:
        if run["problem"] == "solvers":
            assert run["rescored"] and len(run["test_scores"]) == len(solver_problem.TEST)
            mean = sum(run["test_scores"]) / len(run["test_scores"])
            assert run["test_par10"] == pytest.approx(mean)


def test_the_committed_run_renders_the_readme_tables(tmp_path: Path) -> None:
    """The README's bench/ac tables come from the committed results."""
    done = run_bench(
        "ac", "--report-from", "bench/figures/ac/results.json.gz", "--out", str(tmp_path)
    )
    assert "- solvers: tunehub-ac-race 0.033 s <= smac-ac 0.034 s" in done.stdout
    assert "- solvers: tunehub-ac-race 0.033 s <= default 0.232 s" in done.stdout
    for verdict in (
        "- cash-breast_cancer, 40 trials: rising-bandit 0.0164 <= gp 0.0164",
        "- cash-breast_cancer, 100 trials: rising-bandit 0.0141 <= gp 0.0141",
        "- cash-digits, 40 trials: rising-bandit 0.0156 > gp 0.0148",
        "- cash-digits, 100 trials: rising-bandit 0.0148 <= gp 0.0148",
    ):
        assert verdict in done.stdout
