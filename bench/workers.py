"""Per-trial overhead of ``tunehub worker`` next to Ray Tune, on the same local Ray.

Run from the repository root: ``python -m bench.workers [--trials 200]``.

Both sides run ``--trials`` trivial trials (a few arithmetic operations) on one
local Ray with ``--cpus`` CPUs, one CPU per trial, in the same process, so
what is measured is what each adds per trial: for Tunehub, an ask and a tell
over HTTP to a real ``tunehub server`` (SQLite) plus a Ray task; for Ray Tune,
``tune.Tuner`` with its default search (random sampling of the same space) and
trial actors. Ray starts once, before either side is timed.

Prints a markdown table and writes JSON to ``bench/results/workers.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tunehub
from bench.server_process import tunehub_server

RESULTS = Path(__file__).resolve().parent / "results" / "workers.json"


def trivial(trial: tunehub.Trial) -> float:
    """The Tunehub side's trial: nothing but the objective."""
    return (float(trial.params["x"]) - 0.5) ** 2  # type: ignore[arg-type]


def trivial_tune(config: dict[str, Any]) -> dict[str, float]:
    """The Ray Tune side's trial: the same objective, returned as its one result."""
    return {"loss": (float(config["x"]) - 0.5) ** 2}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import ray

    with tempfile.TemporaryDirectory(prefix="tunehub-bench-workers-") as tmp:
        ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="ERROR")
        try:
            sides = {"tunehub": [], "ray_tune": []}  # type: dict[str, list[float]]
            with tunehub_server(f"sqlite:///{tmp}/tunehub.db") as url:
                for round_ in range(args.rounds):
                    sides["tunehub"].append(_tunehub(url, args.trials, Path(tmp), round_))
                    sides["ray_tune"].append(_ray_tune(args.trials, Path(tmp), round_))
        finally:
            ray.shutdown()
    results = _results(args, sides)
    print(markdown(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.output}")
    return 0


def _tunehub(url: str, trials: int, tmp: Path, round_: int) -> float:
    from tunehub.workers.driver import Worker, WorkerOptions
    from tunehub.workers.entrypoints import Entrypoint

    with tunehub.Client(url) as client:
        name = f"bench-{round_}"
        client.create_study(name=name, space={"x": tunehub.Float(0.0, 1.0)}, seed=round_)
        options = WorkerOptions(
            studies=[name],
            work=Entrypoint("bench.workers:trivial"),
            storage=tmp / "checkpoints",
            max_trials=trials,
            progress=False,
        )
        started = time.perf_counter()
        summary = Worker(client, options).run()
        seconds = time.perf_counter() - started
    if summary.completed != trials:
        raise RuntimeError(f"tunehub worker completed {summary.completed} of {trials} trials")
    return trials / seconds


def _ray_tune(trials: int, tmp: Path, round_: int) -> float:
    from ray import tune

    tuner = tune.Tuner(
        trivial_tune,
        param_space={"x": tune.uniform(0.0, 1.0)},
        tune_config=tune.TuneConfig(num_samples=trials, metric="loss", mode="min"),
        run_config=tune.RunConfig(
            name=f"bench-{round_}", storage_path=str(tmp / "ray_results"), verbose=0
        ),
    )
    started = time.perf_counter()
    grid = tuner.fit()
    seconds = time.perf_counter() - started
    if grid.num_errors or len(grid) != trials:
        raise RuntimeError(f"Ray Tune ran {len(grid)} trials with {grid.num_errors} errors")
    return trials / seconds


def _results(args: argparse.Namespace, sides: dict[str, list[float]]) -> dict[str, Any]:
    import ray

    ratios = [a / b for a, b in zip(sides["tunehub"], sides["ray_tune"])]
    return {
        "benchmark": "workers",
        "command": " ".join(["python", "-m", "bench.workers", *sys.argv[1:]]),
        "environment": {
            "python": platform.python_version(),
            "cpus_on_machine": os.cpu_count(),
            "ray": ray.__version__,
            "tunehub": tunehub.__version__,
        },
        "settings": {"trials": args.trials, "ray_cpus": args.cpus, "rounds": args.rounds},
        "trials_per_second": {k: [round(v, 2) for v in vs] for k, vs in sides.items()},
        "ratio": round(sorted(ratios)[len(ratios) // 2], 2),
    }


def markdown(results: dict[str, Any]) -> str:
    s = results["settings"]
    per = results["trials_per_second"]
    return "\n".join(
        [
            f"## Worker overhead: {s['trials']} trivial trials, local Ray on {s['ray_cpus']} CPUs",
            "",
            "| side | trials/s per round |",
            "|---|---|",
            "| Tunehub (`tunehub worker`, server on SQLite) | "
            f"{', '.join(map(str, per['tunehub']))} |",
            f"| Ray Tune {results['environment']['ray']} (`tune.Tuner`) | "
            f"{', '.join(map(str, per['ray_tune']))} |",
            "",
            f"Tunehub / Ray Tune, median of the per-round ratios: **{results['ratio']}x**",
        ]
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200, help="trials per side and round")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds per side")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
