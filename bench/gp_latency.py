"""Ask latency of the ``gp`` policy as a study grows, beside Optuna's GPSampler.

On Hartmann6 both sides are grown to each size with the same random
configurations (told, not modelled: growing is not what is timed), then ``--asks``
model-based trials are timed one by one and told, so the study keeps growing:

- Tunehub: ``study.ask()`` through the SDK against a live ``tunehub server``
  (HTTP and the server's fit included), what a worker waits for;
- Optuna: ``study.ask()`` with the search space, which runs GPSampler's fit and
  acquisition, plus ``study.tell()``, in process: its whole per-trial time.

Tunehub refits its hyperparameters only after the data grew by ``refit_growth``
(5%), so the p50 is an ask that reuses them and the max is one that refits:
both are reported. Run: ``python -m bench.gp_latency`` (``make bench-gp-latency``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna

import tunehub
from bench.ask_latency import percentile
from bench.quality.functions import hartmann6
from bench.server_process import tunehub_server_process

NAMES = [f"x{i}" for i in range(6)]
SPACE = {name: {"type": "float", "low": 0.0, "high": 1.0} for name in NAMES}


def value(params: dict[str, Any]) -> float:
    return hartmann6([params[n] for n in NAMES])


def seeded_configs(count: int, seed: int) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    return [dict(zip(NAMES, map(float, row))) for row in rng.random((count, len(NAMES)))]


def summarize(samples: Sequence[float]) -> dict[str, float]:
    return {
        "p50_s": percentile(samples, 50),
        "mean_s": statistics.fmean(samples),
        "max_s": max(samples),
    }


def time_asks(asks: int, step: Callable[[], None]) -> list[float]:
    samples = []
    for _ in range(asks):
        start = time.perf_counter()
        step()
        samples.append(time.perf_counter() - start)
    return samples


def tunehub_side(
    sizes: Sequence[int], asks: int, seed: int, memory_at: int
) -> tuple[dict[int, dict[str, float]], float]:
    """Latency per size, and the server's peak memory (MiB) once grown to ``memory_at``."""
    out: dict[int, dict[str, float]] = {}
    with (
        tempfile.TemporaryDirectory() as folder,
        tunehub_server_process(f"sqlite:///{folder}/latency.db") as (url, server),
    ):
        client = tunehub.Client(url)
        study = client.create_study(
            name="gp-latency", space=SPACE, objectives="f", policy="gp", seed=seed
        )
        grown = 0

        def step() -> None:
            trial = study.ask()
            trial.tell(value(trial.params))

        for size in sorted({*sizes, memory_at}):
            for params in seeded_configs(size - grown, seed + size):
                study.enqueue(params)
                trial = study.ask()
                trial.tell(value(trial.params))
            samples = time_asks(asks if size in sizes else 3, step)
            grown = size + len(samples)
            if size in sizes:
                out[size] = summarize(samples)
                print(f"tunehub gp  n={size:5d}  {out[size]}", flush=True)
        peak = peak_rss_mib(server.pid)
        print(f"tunehub server peak memory after {memory_at} trials: {peak:.0f} MiB", flush=True)
    return out, peak


def peak_rss_mib(pid: int) -> float:
    """The process's resident-memory high-water mark (Linux ``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def optuna_side(sizes: Sequence[int], asks: int, seed: int) -> dict[int, dict[str, float]]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {n: optuna.distributions.FloatDistribution(0.0, 1.0) for n in NAMES}
    study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=seed))
    out: dict[int, dict[str, float]] = {}
    grown = 0
    for size in sorted(sizes):
        for params in seeded_configs(size - grown, seed + size):
            study.add_trial(
                optuna.trial.create_trial(
                    params=params, distributions=distributions, value=value(params)
                )
            )
        grown = size

        def step() -> None:
            trial = study.ask(distributions)
            study.tell(trial, value(trial.params))

        out[size] = summarize(time_asks(asks, step))
        grown += asks
        print(f"optuna gp   n={size:5d}  {out[size]}", flush=True)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,1000", help="completed trials to time at")
    parser.add_argument("--asks", type=int, default=10, help="timed asks at each size")
    parser.add_argument(
        "--memory-at", type=int, default=2000, help="completed trials when memory is read"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/gp_latency.json"))
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    ours, peak_mib = tunehub_side(sizes, args.asks, args.seed, args.memory_at)
    theirs = optuna_side(sizes, args.asks, args.seed)
    rows = []
    print(
        "\n| completed trials | Tunehub gp ask p50 s (max) | Optuna GPSampler p50 s (max) | ratio |"
    )
    print("|---:|---:|---:|---:|")
    for size in sizes:
        ratio = ours[size]["p50_s"] / theirs[size]["p50_s"]
        rows.append({"size": size, "tunehub": ours[size], "optuna": theirs[size], "ratio": ratio})
        print(
            f"| {size} | {ours[size]['p50_s']:.3f} ({ours[size]['max_s']:.2f}) "
            f"| {theirs[size]['p50_s']:.3f} ({theirs[size]['max_s']:.2f}) | {ratio:.2f} |"
        )
    print(f"\nServer peak memory with {args.memory_at} trials: {peak_mib:.0f} MiB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "problem": "hartmann6",
                "asks_per_size": args.asks,
                "machine": platform.platform(),
                "optuna": optuna.__version__,
                "rows": rows,
                "server_peak_rss_mib": peak_mib,
                "server_peak_rss_at_trials": args.memory_at,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
