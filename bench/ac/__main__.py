"""Algorithm configuration and CASH: Tunehub's policies against SMAC3, random and defaults.

    python -m bench.ac [--problems solvers,cash-digits,cash-breast_cancer]
                       [--optimizers ...] [--seeds 5] [--workers 2]

``solvers``: each tuner spends the same CPU seconds of solver time on the train
instances, then its configuration is scored by PAR10 on the test instances.
``cash-*``: each searcher gets the same number of trials over one conditional
space of four classifiers. Tunehub tuners go through one live Tunehub server on
SQLite. Writes ``results.json`` and ``report.md`` to ``--out`` (bench/results/ac);
``--report-from`` re-renders from results files (``.json`` or ``.json.gz``), and
with ``--rescore`` first measures every solver configuration's test scores again:
tuners may run side by side (their budgets are CPU time), but the scores that decide
are taken in one sitting, the configurations interleaved on every instance.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from bench.ac import solver_problem
from bench.ac.harness import PROBLEMS, optimizers_of, rescore, run_job
from bench.ac.report import write_report
from bench.run_args import add_run_arguments
from bench.run_jobs import read_runs, run_jobs


def main(argv: Sequence[str] | None = None) -> int:
    known = sorted({o for p in PROBLEMS for o in optimizers_of(p)})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, PROBLEMS, known, Path("bench/results/ac"))
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="with --report-from: score every solver run's configuration on the test "
        "instances again, interleaved, and write the runs to --out",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=solver_problem.REPEATS,
        help="runs per test instance when scoring a solver configuration (the median counts)",
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    _one_blas_thread()
    if args.report_from:
        runs = [r for path in args.report_from for r in read_runs(path)]
        if args.rescore:
            runs = _rescored(runs, args.repeats)
            (args.out / "results.json").write_text(json.dumps({"runs": runs}))
        print(write_report(runs, args.out))
        return 0
    problems, optimizers = args.problems.split(","), args.optimizers.split(",")
    unknown = [p for p in problems if p not in PROBLEMS] + [o for o in optimizers if o not in known]
    if unknown:
        parser.error(f"unknown {unknown}: problems {list(PROBLEMS)}, optimizers {known}")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [(p, o, s) for s in seeds for p in problems for o in optimizers if o in optimizers_of(p)]
    runs = run_jobs(
        functools.partial(run_job, repeats=args.repeats),
        jobs,
        workers=args.workers,
        scale=args.budget_scale,
        out=args.out,
        describe=lambda run: f"score {run.get('test_par10', run.get('cv_error'))}",
    )
    print(write_report(runs, args.out))
    return 0 if all(r["status"] == "ok" for r in runs) else 1


def _one_blas_thread() -> None:
    """One BLAS thread in every run (set before the workers import numpy): runtimes are
    CPU seconds, and runs side by side must not share threads."""
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = "1"


def _rescored(runs: list[dict[str, Any]], repeats: int) -> list[dict[str, Any]]:
    """The runs, each solver run's test scores measured again in one worker process:
    every tuner's configuration scored on the same machine, in one sitting, interleaved."""
    solver_runs = [r for r in runs if r["problem"] == "solvers" and r["status"] == "ok"]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        incumbents = [r["incumbent"] for r in solver_runs]
        scores = pool.submit(rescore, incumbents, repeats).result()
    for run, new in zip(solver_runs, scores, strict=True):
        run.update(test_scores=new, test_par10=float(np.mean(new)), rescored=True)
    return runs


if __name__ == "__main__":
    raise SystemExit(main())
