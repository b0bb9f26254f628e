"""One run of bench/ac, in a worker process (spawned: it must be importable)."""

from __future__ import annotations

import time
import traceback
from collections import Counter
from typing import Any

import numpy as np

PROBLEMS = ("solvers", "cash-digits", "cash-breast_cancer")


def optimizers_of(problem: str) -> tuple[str, ...]:
    from bench.ac.cash import SEARCHERS
    from bench.ac.solver_tuners import TUNERS

    return tuple(TUNERS if problem == "solvers" else SEARCHERS)


def run_job(
    problem: str,
    optimizer: str,
    seed: int,
    url: str | None,
    scale: float = 1.0,
    repeats: int = 3,
) -> dict[str, Any]:
    """One tuner's run on one problem and seed, scored on the held-out data."""
    started = time.perf_counter()
    record: dict[str, Any] = {"problem": problem, "optimizer": optimizer, "seed": seed}
    try:
        if problem == "solvers":
            record.update(_solvers(optimizer, seed, url, scale, repeats))
        else:
            record.update(_cash(problem.removeprefix("cash-"), optimizer, seed, url, scale))
        record.update(status="ok", message="")
    except Exception:
        record.update(status="error", message=traceback.format_exc(limit=8))
    record["seconds"] = time.perf_counter() - started
    return record


def _solvers(
    optimizer: str, seed: int, url: str | None, scale: float, repeats: int
) -> dict[str, Any]:
    from bench.ac import solver_problem
    from bench.ac.solver_tuners import TUNERS

    ledger = solver_problem.SolverLedger(budget=solver_problem.BUDGET * scale)
    incumbent = _plain(TUNERS[optimizer](ledger, seed, url))
    scores = solver_problem.scores_on_test(incumbent, repeats)
    return {
        "incumbent": incumbent,
        "spent": ledger.spent,
        "runs": len(ledger.runs),
        "outcomes": dict(Counter(r.status for r in ledger.runs)),
        "configurations": len({repr(sorted(r.params.items())) for r in ledger.runs}),
        "test_scores": scores,
        "test_par10": float(np.mean(scores)),
    }


def _cash(dataset: str, optimizer: str, seed: int, url: str | None, scale: float) -> dict[str, Any]:
    from bench.ac import cash

    trials = max(2, round(cash.TRIALS * scale))
    tried = [(_plain(p), e) for p, e in cash.SEARCHERS[optimizer](dataset, seed, url, trials)]
    best_params, best_error = min(tried, key=lambda t: t[1])
    return {
        "errors": [e for _, e in tried],
        "models": [p["model"] for p, _ in tried],
        "incumbent": best_params,
        "cv_error": best_error,
        "test_error": cash.test_error(dataset, best_params),
    }


def rescore(incumbents: list[dict[str, Any]], repeats: int) -> list[list[float]]:
    """Every configuration's test scores, measured again side by side: each repeat runs
    every instance with the configurations in a new shuffled order, so a machine that
    drifts (clock, caches, other load) slows them all alike."""
    import random
    import statistics

    from bench.ac import solver_problem as problem

    runs: list[list[list[float]]] = [[[] for _ in problem.TEST] for _ in incumbents]
    rng = random.Random(0)
    for _ in range(repeats):
        for k, instance in enumerate(problem.TEST):
            order = list(range(len(incumbents)))
            rng.shuffle(order)
            for j in order:
                run = problem.run_solver(incumbents[j], instance["id"], problem.CUTOFF)
                runs[j][k].append(problem.par_score(run))
    return [[statistics.median(scores) for scores in per_run] for per_run in runs]


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """numpy scalars (from SMAC and ConfigSpace) as the JSON types they stand for."""
    return {k: v.item() if hasattr(v, "item") else v for k, v in params.items()}
