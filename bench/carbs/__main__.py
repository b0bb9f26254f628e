"""Cost-aware search at equal total cost: Tunehub carbs against multi-objective peers.

    python -m bench.carbs [--problems chinchilla,mlp-digits] [--optimizers ...] [--seeds 5]

Each optimizer spends the problem's total cost (or 300 trials) per seed, in
worker processes (``--workers`` at a time) against one live Tunehub server on
SQLite. The score is the hypervolume of (objective, log10 cost) against the cost
spent; on ``chinchilla`` the exponents of a scaling-law fit over each run's front
are compared with the true ones. Writes ``results.json``, ``report.md`` and plots
to ``--out`` (bench/results/carbs); ``--report-from`` re-renders from results
files (``.json`` or ``.json.gz``), merging them.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from bench.carbs.harness import run_job
from bench.carbs.optimizers import OPTIMIZERS
from bench.carbs.problems import PROBLEMS
from bench.carbs.report import write_report
from bench.run_args import add_run_arguments
from bench.run_jobs import read_runs, run_jobs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, PROBLEMS, OPTIMIZERS, Path("bench/results/carbs"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report_from:
        runs = [r for path in args.report_from for r in read_runs(path)]
        print(write_report(runs, args.out))
        return 0
    problems, optimizers = args.problems.split(","), args.optimizers.split(",")
    unknown = [p for p in problems if p not in PROBLEMS] + [
        o for o in optimizers if o not in OPTIMIZERS
    ]
    if unknown:
        parser.error(f"unknown {unknown}: problems {list(PROBLEMS)}, optimizers {list(OPTIMIZERS)}")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [(p, o, s) for s in seeds for p in problems for o in optimizers]
    runs = run_jobs(
        run_job,
        jobs,
        workers=args.workers,
        scale=args.budget_scale,
        out=args.out,
        describe=lambda run: f"{len(run['evaluations'])} trials",
    )
    print(write_report(runs, args.out))
    return 0 if all(r["status"] == "ok" for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
