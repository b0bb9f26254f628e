"""``tunehub worker``: run trials of studies on a Ray cluster."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = sub.add_parser(
        "worker",
        help="run trials of studies on a Ray cluster (needs the workers extra)",
        description="Ask the server for trials and run each as a Ray task with the study's "
        "resources; heartbeat, stop, measure and tell them.",
    )
    worker.add_argument(
        "--study", action="append", required=True, metavar="NAME", help="study name or id (repeat)"
    )
    what = worker.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--entrypoint", metavar="MODULE:FUNCTION", help="a function taking a tunehub.Trial"
    )
    what.add_argument(
        "--command",
        metavar="LINE",
        help="a shell command; it gets TUNEHUB_PARAMS (JSON), TUNEHUB_TRIAL_ID, TUNEHUB_URL and "
        "TUNEHUB_CHECKPOINT_DIR, and tells through tunehub.current_trial() or prints the value",
    )
    worker.add_argument(
        "--address",
        default="local",
        help="local (start Ray here), auto (join the cluster of this node) or ray://host:port",
    )
    worker.add_argument("--url", help="server URL (default TUNEHUB_URL or 127.0.0.1:8000)")
    worker.add_argument("--max-trials", type=int, help="new trials to run, then exit")
    worker.add_argument(
        "--storage",
        type=Path,
        default=Path(os.environ.get("TUNEHUB_STORAGE", "tunehub_checkpoints")),
        help="checkpoint folder, local or on a filesystem every node mounts "
        "(default TUNEHUB_STORAGE or ./tunehub_checkpoints)",
    )
    worker.add_argument(
        "--grace-seconds",
        type=float,
        default=30.0,
        help="on SIGTERM/SIGINT, how long running trials may go on before they are stopped",
    )
    worker.add_argument("--cpus-per-trial", type=float, help="override the study's num_cpus")
    worker.add_argument("--gpus-per-trial", type=float, help="override the study's num_gpus")
    worker.add_argument(
        "--num-cpus", type=float, help="with --address local: CPUs Ray may use (default all)"
    )
    worker.add_argument(
        "--num-gpus", type=float, help="with --address local: GPUs Ray may use (default all)"
    )
    worker.add_argument("--heartbeat-seconds", type=float, help=argparse.SUPPRESS)
    worker.add_argument("--no-progress", action="store_true", help="no progress bar")
    worker.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        import ray
    except ImportError:
        print(
            "tunehub worker needs Ray: pip install 'tunehub[workers]'",
            file=sys.stderr,
        )
        return 2
    from tunehub.client import Client
    from tunehub.workers.driver import Worker, WorkerOptions
    from tunehub.workers.entrypoints import Command, Entrypoint, Work

    work: Work = Entrypoint(args.entrypoint) if args.entrypoint else Command(args.command)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does: entrypoints next to you import
    if isinstance(work, Entrypoint):
        try:
            work.load()  # fail here, not in every task
        except ValueError as error:
            print(f"tunehub worker: {error}", file=sys.stderr)
            return 2
    options = WorkerOptions(
        studies=args.study,
        work=work,
        storage=args.storage.resolve(),
        max_trials=args.max_trials,
        grace_seconds=args.grace_seconds,
        heartbeat_seconds=args.heartbeat_seconds,
        num_cpus=args.cpus_per_trial,
        num_gpus=args.gpus_per_trial,
        progress=not args.no_progress,
    )
    if args.address == "local":
        ray.init(
            num_cpus=args.num_cpus,
            num_gpus=args.num_gpus,
            include_dashboard=False,
            logging_level=logging.WARNING,
        )
    else:
        ray.init(address=args.address, logging_level=logging.WARNING)
    try:
        with Client(args.url) as client:
            summary = Worker(client, options).run()
    finally:
        ray.shutdown()
    print(
        f"tunehub worker: {summary.completed} completed, {summary.failed} failed, "
        f"{summary.pruned} pruned, {summary.stopped} stopped; best {summary.best}",
        flush=True,
    )
    return 0
