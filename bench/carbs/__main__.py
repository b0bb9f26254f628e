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
import gzip
import json
import multiprocessing
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from bench.carbs.harness import run_job
from bench.carbs.optimizers import OPTIMIZERS
from bench.carbs.problems import PROBLEMS
from bench.carbs.report import write_report
from bench.run_args import add_run_arguments
from bench.server_process import server_if


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, PROBLEMS, OPTIMIZERS, Path("bench/results/carbs"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report_from:
        runs = [r for path in args.report_from for r in _read_runs(path)]
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
    runs: list[dict[str, Any]] = []
    context = multiprocessing.get_context("spawn")
    with (
        tempfile.TemporaryDirectory() as folder,
        server_if(
            any(o.startswith("tunehub") for o in optimizers), Path(folder) / "carbs.db"
        ) as url,
        ProcessPoolExecutor(args.workers, mp_context=context) as pool,
    ):
        futures = [pool.submit(run_job, p, o, s, url, args.budget_scale) for p, o, s in jobs]
        for done, future in enumerate(as_completed(futures), 1):
            run = future.result()
            runs.append(run)
            print(
                f"[{done}/{len(jobs)}] {run['problem']} {run['optimizer']} seed {run['seed']}: "
                f"{run['status']}, {len(run['evaluations'])} trials, {run['seconds']:.0f} s",
                flush=True,
            )
            if run["status"] != "ok":
                print(run["message"], file=sys.stderr)
            # Written after every run: a stopped bench keeps what it finished.
            partial = args.out / "results.json.partial"
            partial.write_text(json.dumps({"runs": runs}))
            partial.replace(args.out / "results.json")
    print(write_report(runs, args.out))
    return 0 if all(r["status"] == "ok" for r in runs) else 1


def _read_runs(path: Path) -> list[dict[str, Any]]:
    """The runs of a ``results.json`` (or a gzipped one, as the committed runs are)."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    runs: list[dict[str, Any]] = json.loads(data)["runs"]
    return runs


if __name__ == "__main__":
    raise SystemExit(main())
