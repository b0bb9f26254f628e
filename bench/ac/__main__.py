"""Algorithm configuration and CASH: Tunehub's policies against SMAC3, random and defaults.

    python -m bench.ac [--problems solvers,cash-digits,cash-breast_cancer]
                       [--optimizers ...] [--seeds 5] [--workers 2]

``solvers``: each tuner spends the same CPU seconds of solver time on the train
instances, then its configuration is scored by PAR10 on the test instances.
``cash-*``: each searcher gets the same number of trials over one conditional
space of four classifiers. Tunehub tuners go through one live Tunehub server on
SQLite. Writes ``results.json`` and ``report.md`` to ``--out`` (bench/results/ac);
``--report-from`` re-renders from results files (``.json`` or ``.json.gz``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from bench.ac.harness import PROBLEMS, optimizers_of, run_job
from bench.ac.report import write_report
from bench.run_args import add_run_arguments
from bench.run_jobs import read_runs, run_jobs


def main(argv: Sequence[str] | None = None) -> int:
    known = sorted({o for p in PROBLEMS for o in optimizers_of(p)})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, PROBLEMS, known, Path("bench/results/ac"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report_from:
        runs = [r for path in args.report_from for r in read_runs(path)]
        print(write_report(runs, args.out))
        return 0
    problems, optimizers = args.problems.split(","), args.optimizers.split(",")
    unknown = [p for p in problems if p not in PROBLEMS] + [o for o in optimizers if o not in known]
    if unknown:
        parser.error(f"unknown {unknown}: problems {list(PROBLEMS)}, optimizers {known}")
    # One BLAS thread in every run (set before the workers import numpy): runtimes are
    # CPU seconds, and runs side by side must not share threads.
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = "1"
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [(p, o, s) for s in seeds for p in problems for o in optimizers if o in optimizers_of(p)]
    runs = run_jobs(
        run_job,
        jobs,
        workers=args.workers,
        scale=args.budget_scale,
        out=args.out,
        describe=lambda run: f"score {run.get('test_par10', run.get('cv_error'))}",
    )
    print(write_report(runs, args.out))
    return 0 if all(r["status"] == "ok" for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
