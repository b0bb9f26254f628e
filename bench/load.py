"""Load on PostgreSQL: many clients asking and telling for a minute, with Optuna's
RDB storage on the same database beside it.

    python -m bench.load [--clients 64] [--seconds 60] [--server-workers 2]

A throwaway PostgreSQL (fsync and synchronous commit on, as it ships), migrated;
``tunehub server --workers 2`` on it; ``--clients`` clients (``--processes``
processes of threads, released together once all are set up) each doing ask then
tell in a loop.
Only requests that start inside the measured window count; an error is counted,
logged and the client goes on, so a run says how many requests failed rather than
stopping at the first. Then the same clients, the same loop and the same space
against ``optuna.storages.RDBStorage`` on its own database of the same server.

Prints a markdown table and writes ``bench/results/load.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.load_clients import objective, optuna_distributions, tunehub_space
from bench.server_process import tunehub_server

RESULTS = Path(__file__).resolve().parent / "results" / "load.json"
STUDY = "load"
Sample = tuple[str, float]  # (request kind, seconds)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from tests.support.postgres import create_database, postgres_cluster

    started = time.perf_counter()
    sides: dict[str, dict[str, Any]] = {}
    with postgres_cluster(durable=True) as cluster:
        ours = create_database(cluster.prefix, "tunehub_load")
        _upgrade(ours)
        with tunehub_server(ours, workers=args.server_workers) as url:
            import tunehub

            with tunehub.Client(url) as client:
                client.create_study(name=STUDY, space=tunehub_space(), objectives="loss", seed=0)
            sides["tunehub"] = run_side("tunehub", url, args)
        if not args.no_peer:
            theirs = create_database(cluster.prefix, "optuna_load")
            _create_optuna_study(theirs)
            sides["optuna"] = run_side("optuna", theirs, args)
    results = {
        "environment": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "server_workers": args.server_workers,
            "clients": args.clients,
            "processes": args.processes,
            "seconds": args.seconds,
            "warmup": args.warmup,
        },
        "sides": sides,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    print(markdown(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.output}")
    failed = sides["tunehub"]["errors"]
    return 0 if not failed and sides["tunehub"]["pairs"] > 0 else 1


def run_side(kind: str, address: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run the clients in ``args.processes`` spawned processes; gather their samples.

    Every process sets its clients up first; the window opens ``args.warmup`` seconds
    after the last one is ready."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    window = context.Array("d", 2)  # begin, end (UNIX seconds); 0 until all are ready
    go = context.Event()
    shares = [len(part) for part in np.array_split(range(args.clients), args.processes)]
    processes = [
        context.Process(target=_process, args=(kind, address, n, window, go, queue), daemon=True)
        for n in shares
        if n
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready = queue.get(timeout=args.startup)
        assert ready == "ready", ready
    window[0] = time.time() + args.warmup
    window[1] = window[0] + args.seconds
    go.set()
    gathered = [queue.get(timeout=args.warmup + args.seconds + 300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    samples = [s for part in gathered for s in part["samples"]]
    errors: Counter[str] = Counter()
    for part in gathered:
        errors.update(part["errors"])
    pairs = sum(part["pairs"] for part in gathered)
    return {
        "pairs": pairs,
        "pairs_per_second": pairs / args.seconds,
        "requests": len(samples),
        "errors": dict(errors),
        "latency_ms": {
            kind_: _percentiles([s for k, s in samples if k == kind_]) for kind_ in ("ask", "tell")
        },
    }


def _percentiles(seconds: list[float]) -> dict[str, float | None]:
    if not seconds:
        return {"p50": None, "p99": None, "max": None}
    values = np.array(seconds) * 1000
    return {
        "p50": round(float(np.percentile(values, 50)), 2),
        "p99": round(float(np.percentile(values, 99)), 2),
        "max": round(float(values.max()), 2),
    }


def _process(kind: str, address: str, threads: int, window: Any, go: Any, queue: Any) -> None:
    samples: list[Sample] = []
    errors: Counter[str] = Counter()
    pairs = [0]
    lock = threading.Lock()
    make = _tunehub_step if kind == "tunehub" else _optuna_step
    try:
        clients = [make(address) for _ in range(threads)]
    except BaseException:
        queue.put(traceback.format_exc())
        return
    queue.put("ready")
    go.wait()
    begin, end = window[0], window[1]

    def client(run: Callable[[], list[Sample]], close: Callable[[], None]) -> None:
        try:
            while time.time() < end:
                started = time.time()
                try:
                    timings = run()
                except Exception as error:  # counted, and the client goes on
                    with lock:
                        if started >= begin:
                            errors[type(error).__name__] += 1
                    time.sleep(0.05)
                    continue
                if started >= begin and time.time() <= end:
                    with lock:
                        samples.extend(timings)
                        pairs[0] += 1
        finally:
            close()

    workers = [threading.Thread(target=client, args=pair) for pair in clients]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put({"samples": samples, "errors": dict(errors), "pairs": pairs[0]})


def _tunehub_step(url: str) -> tuple[Callable[[], list[Sample]], Callable[[], None]]:
    import tunehub

    client = tunehub.Client(url, max_retry_seconds=30.0)
    study = client.get_study(STUDY)

    def step() -> list[Sample]:
        t0 = time.perf_counter()
        trial = study.ask()
        t1 = time.perf_counter()
        trial.tell(objective(trial.params))
        t2 = time.perf_counter()
        return [("ask", t1 - t0), ("tell", t2 - t1)]

    return step, client.close


def _optuna_step(url: str) -> tuple[Callable[[], list[Sample]], Callable[[], None]]:
    import optuna
    from optuna.samplers import RandomSampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name=STUDY, storage=_optuna_storage(url), sampler=RandomSampler()
    )
    distributions = optuna_distributions()

    def step() -> list[Sample]:
        t0 = time.perf_counter()
        trial = study.ask(distributions)
        t1 = time.perf_counter()
        study.tell(trial, objective(trial.params))
        t2 = time.perf_counter()
        return [("ask", t1 - t0), ("tell", t2 - t1)]

    return step, lambda: None


def _optuna_storage(url: str) -> Any:
    """Optuna's RDB storage on PostgreSQL as its users create it (psycopg 3 driver)."""
    import optuna

    return optuna.storages.RDBStorage(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _upgrade(url: str) -> None:
    from tunehub.server.store.engine import make_engine
    from tunehub.server.store.migrate import upgrade

    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def _create_optuna_study(url: str) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name=STUDY, storage=_optuna_storage(url))


def markdown(results: dict[str, Any]) -> str:
    env = results["environment"]
    lines = [
        f"{env['clients']} clients ({env['processes']} processes) for {env['seconds']:g} s on "
        f"PostgreSQL, Tunehub with {env['server_workers']} server processes, "
        f"{env['cpus']} CPUs shared by clients, server and database:",
        "",
        "| side | ask+tell pairs/s | ask p50 / p99 (ms) | tell p50 / p99 (ms) | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, side in results["sides"].items():
        ask, tell = side["latency_ms"]["ask"], side["latency_ms"]["tell"]
        errors = sum(side["errors"].values())
        lines.append(
            f"| {name} | {side['pairs_per_second']:.0f} | {ask['p50']} / {ask['p99']} | "
            f"{tell['p50']} / {tell['p99']} | {errors} of {side['requests'] + errors} |"
        )
    sides = results["sides"]
    if "optuna" in sides and sides["optuna"]["pairs"]:
        ratio = sides["tunehub"]["pairs_per_second"] / sides["optuna"]["pairs_per_second"]
        lines += ["", f"Tunehub / Optuna throughput: {ratio:.2f}x"]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--processes", type=int, default=8, help="client processes")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument(
        "--startup",
        type=float,
        default=300.0,
        help="most seconds a client process may take to start",
    )
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--no-peer", action="store_true", help="skip Optuna's side")
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
