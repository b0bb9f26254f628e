"""Throughput and ask latency of Tunehub, side by side with Optuna's RDB storage.

Run from the repository root: ``python -m bench.throughput [--quick]``.

1. Throughput: a real ``tunehub server`` subprocess on SQLite (``--server-workers``
   processes) and ``--clients`` concurrent clients doing ``ask`` then ``tell`` in a
   loop for ``--seconds`` after a warm-up; then the same work, in the same way,
   against ``optuna.storages.RDBStorage`` on SQLite with the RandomSampler and the
   same search space, once with SQLite as Optuna leaves it and once with the WAL
   pragmas Tunehub's server sets. ``--rounds`` alternate the three sides (3 by
   default) and the ratio is the median of the per-round ratios, so drift in a
   shared machine's speed hits both sides alike. Clients are separate processes by default
   (``--client-mode``): Optuna does all its work inside the client, so threads
   would pin it to one core under the GIL; Tunehub's clients get the same treatment.
2. Ask latency: one Tunehub study grown to each of ``--sizes`` completed trials,
   with p50/p99 of single asks at each size (random policy, which reads no trials,
   so the design expects a flat curve).

Clients and server share this machine's CPUs, as on a one-box install; the
table's header says how many there are, and numbers from different machines do
not compare.

Prints a markdown table and writes JSON to ``bench/results/throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tunehub
from bench.ask_latency import LatencyPoint, measure_growth
from bench.load_clients import (
    LoadResult,
    Mode,
    Target,
    optuna_storage,
    run_load,
    tunehub_space,
)
from bench.server_process import tunehub_server

RESULTS = Path(__file__).resolve().parent / "results" / "throughput.json"
STUDY = "throughput"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.quick:
        args.clients, args.seconds, args.warmup = min(args.clients, 2), 0.5, 0.2
        args.rounds = 1
        args.sizes, args.latency_asks = [10, 50], 10
        args.client_mode = args.client_mode or "threads"  # spawning processes costs seconds
    args.client_mode = args.client_mode or "processes"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tunehub-bench-") as tmp:
        results = run(args, Path(tmp))
    results["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    print(markdown(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.output} ({results['elapsed_seconds']} s)")
    return 0


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    mode: Mode = args.client_mode
    load = {"clients": args.clients, "warmup": args.warmup, "seconds": args.seconds, "mode": mode}
    rounds: dict[str, list[LoadResult]] = {"tunehub": [], "optuna": [], "optuna_wal": []}
    optuna_targets = {}
    for key, wal in (("optuna", False), ("optuna_wal", True)):
        optuna_url = f"sqlite:///{tmp / key}.db"
        _create_optuna_study(optuna_url, wal=wal)
        optuna_targets[key] = Target("optuna", optuna_url, STUDY, wal=wal)

    database = f"sqlite:///{tmp / 'tunehub.db'}"
    with (
        tunehub_server(database, workers=args.server_workers, log_path=tmp / "server.log") as url,
        tunehub.Client(url) as client,
    ):
        client.create_study(name=STUDY, space=tunehub_space(), policy="random", seed=0)
        # Rounds alternate the sides, so a machine that speeds up or slows down
        # during the run (shared hosts do) moves both; the ratio is the median of
        # the per-round ratios.
        for _ in range(args.rounds):
            rounds["tunehub"].append(run_load(Target("tunehub", url, STUDY), **load))
            for key, target in optuna_targets.items():
                rounds[key].append(run_load(target, **load))
        # The same server, a new study: the random policy reads no trials, and the
        # throughput study's rows are behind a study_id index prefix.
        study = client.create_study(name="latency", space=tunehub_space(), seed=0)
        points = measure_growth(study, args.sizes, args.latency_asks)

    ours = [r.trials_per_second for r in rounds["tunehub"]]
    return {
        "benchmark": "throughput",
        "command": " ".join(["python", "-m", "bench.throughput", *sys.argv[1:]]),
        "environment": _environment(),
        "settings": {
            "clients": args.clients,
            "client_mode": mode,
            "warmup_seconds": args.warmup,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "server_workers": args.server_workers,
            "sizes": args.sizes,
            "latency_asks": args.latency_asks,
        },
        "throughput": {
            **{key: _side_json(results) for key, results in rounds.items()},
            "ratio": _median_ratio(ours, rounds["optuna"]),
            "ratio_wal": _median_ratio(ours, rounds["optuna_wal"]),
        },
        "latency": {
            "points": [p.to_json() for p in points],
            "p50_ratio_last_first": _latency_ratio(points),
        },
    }


def _side_json(results: Sequence[LoadResult]) -> dict[str, Any]:
    """Per-round figures and their median (``trials_per_second`` is the median)."""
    return {
        "clients": results[0].clients,
        "client_mode": results[0].mode,
        "seconds": round(sum(r.seconds for r in results), 3),
        "trials": sum(r.trials for r in results),
        "trials_per_second": round(statistics.median(r.trials_per_second for r in results), 2),
        "rounds": [_load_json(r) for r in results],
    }


def _median_ratio(ours: Sequence[float], theirs: Sequence[LoadResult]) -> float | None:
    ratios = [a / b.trials_per_second for a, b in zip(ours, theirs) if b.trials_per_second > 0]
    return round(statistics.median(ratios), 2) if ratios else None


def _create_optuna_study(url: str, *, wal: bool) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna_storage(url, wal=wal)
    optuna.create_study(study_name=STUDY, storage=storage, direction="minimize")


def _load_json(result: LoadResult) -> dict[str, Any]:
    return {
        "clients": result.clients,
        "client_mode": result.mode,
        "seconds": round(result.seconds, 3),
        "trials": result.trials,
        "trials_per_second": round(result.trials_per_second, 2),
    }


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b > 0 else None


def _latency_ratio(points: Sequence[LatencyPoint]) -> float | None:
    if len(points) < 2:
        return None
    return _ratio(points[-1].p50_ms, points[0].p50_ms)


def _environment() -> dict[str, Any]:
    import optuna

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "tunehub": tunehub.__version__,
        "optuna": optuna.__version__,
    }


def markdown(results: dict[str, Any]) -> str:
    settings, env = results["settings"], results["environment"]
    lines = [
        f"## Throughput: {settings['clients']} clients ({settings['client_mode']}), "
        f"{settings['rounds']} rounds of {settings['seconds']:g} s after "
        f"{settings['warmup_seconds']:g} s warm-up, "
        f"{settings['server_workers']} server worker(s), SQLite, {env['cpus']} CPUs",
        "",
        "| side | trials/s per round | median trials/s |",
        "|---|---|---:|",
    ]
    names = {
        "tunehub": "Tunehub server (HTTP, SQLite WAL)",
        "optuna": f"Optuna {env['optuna']} RDBStorage (SQLite defaults)",
        "optuna_wal": f"Optuna {env['optuna']} RDBStorage (SQLite WAL, as Tunehub)",
    }
    for key, name in names.items():
        side = results["throughput"][key]
        per_round = ", ".join(f"{r['trials_per_second']:.1f}" for r in side["rounds"])
        lines.append(f"| {name} | {per_round} | {side['trials_per_second']:.1f} |")
    lines += [
        "",
        "Tunehub / Optuna, median of the per-round ratios: "
        f"**{_fmt(results['throughput']['ratio'])}x** "
        f"(against Optuna on WAL: {_fmt(results['throughput']['ratio_wal'])}x)",
        "",
        f"## Ask latency as the study grows ({settings['latency_asks']} asks per size)",
        "",
        "| completed trials | p50 ms | p99 ms | mean ms |",
        "|---:|---:|---:|---:|",
    ]
    for point in results["latency"]["points"]:
        lines.append(
            f"| {point['size']:,} | {point['p50_ms']:.2f} | {point['p99_ms']:.2f} | "
            f"{point['mean_ms']:.2f} |"
        )
    points = results["latency"]["points"]
    if len(points) >= 2:
        lines += [
            "",
            f"p50 @ {points[-1]['size']:,} / p50 @ {points[0]['size']:,}: "
            f"**{_fmt(results['latency']['p50_ratio_last_first'])}x**",
        ]
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _sizes(text: str) -> list[int]:
    sizes = sorted({int(s) for s in text.replace(" ", "").split(",") if s})
    if not sizes or sizes[0] < 0:
        raise argparse.ArgumentTypeError("give increasing trial counts, e.g. 100,1000,10000")
    return sizes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.throughput", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients per side")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured wall time per side")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per side")
    parser.add_argument(
        "--sizes", type=_sizes, default=[100, 1000, 10000], help="study sizes for ask latency"
    )
    parser.add_argument("--latency-asks", type=int, default=200, help="timed asks per size")
    parser.add_argument("--server-workers", type=int, default=1, help="tunehub server processes")
    parser.add_argument(
        "--client-mode",
        choices=["processes", "threads"],
        help="how clients run, the same for both sides (default processes; threads with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="a few seconds, for a smoke test")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
