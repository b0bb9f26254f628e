"""Multi-fidelity schedulers against their peers: best-so-far vs budget, budget to target.

    python -m bench.multifidelity [--problems ...] [--optimizers ...] [--seeds 5]

Problems x optimizers x seeds run in worker processes (``--workers`` at a time)
against one live Tunehub server on SQLite. Writes ``results.json``, ``report.md``
and one convergence plot per problem to ``--out`` (bench/results/multifidelity).
``--report-from results.json`` re-renders a report without running anything.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from bench.multifidelity.harness import run_job
from bench.multifidelity.report import write_report
from bench.run_args import add_run_arguments
from bench.server_process import server_if

PROBLEMS = ("branin-mf", "hartmann6-mf", "curves", "mlp-digits")
OPTIMIZERS = (
    "tunehub-asha",
    "tunehub-hyperband",
    "tunehub-dehb",
    "tunehub-asha-gp",
    "dehb",
    "optuna-hyperband",
    "ray-asha",
    "ray-bohb",
    "random",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, PROBLEMS, OPTIMIZERS, Path("bench/results/multifidelity"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report_from:
        loaded = [json.loads(path.read_text()) for path in args.report_from]
        runs = [r for results in loaded for r in results["runs"]]
        write_report(runs, args.out, loaded[0].get("budget_scale", 1.0))
        print((args.out / "report.md").read_text())
        return 0
    problems = [p for p in args.problems.split(",") if p]
    optimizers = [o for o in args.optimizers.split(",") if o]
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    jobs = [(p, o, s) for p in problems for o in optimizers for s in seeds]
    with tempfile.TemporaryDirectory() as folder:
        needs_server = any(o.startswith("tunehub-") for o in optimizers)
        with server_if(needs_server, Path(folder) / "mf.db") as url:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=args.workers, mp_context=context) as pool:
                futures = {
                    pool.submit(run_job, p, o, s, url, args.budget_scale): (p, o, s)
                    for p, o, s in jobs
                }
                for done, future in enumerate(as_completed(futures), start=1):
                    p, o, s = futures[future]
                    try:
                        result = future.result()
                    except Exception as error:  # the worker process died
                        result = {"problem": p, "optimizer": o, "seed": s, "status": "error"}
                        result["message"] = f"{type(error).__name__}: {error}"
                    runs.append(result)
                    line = result.get("message", "").splitlines()[:1]
                    print(
                        f"[{done}/{len(jobs)}] {p} {o} seed {s}: {result['status']} "
                        f"{result.get('seconds', '')} s {line[0] if line else ''}",
                        flush=True,
                    )
    results = {
        "command": "python -m bench.multifidelity "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "environment": {"python": platform.python_version(), "machine": platform.machine()},
        "seconds": round(time.perf_counter() - started, 1),
        "budget_scale": args.budget_scale,
        "runs": runs,
    }
    (args.out / "results.json").write_text(json.dumps(results))
    write_report(runs, args.out, args.budget_scale)
    print((args.out / "report.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
