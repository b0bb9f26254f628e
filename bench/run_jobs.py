"""Problems x optimizers x seeds in spawned worker processes, against one Tunehub server.

Shared by the benches whose runs are independent jobs (bench/carbs, bench/ac):
``results.json`` is rewritten after every finished run, so a stopped bench keeps
what it finished, and committed runs are read back gzipped.
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from bench.server_process import server_if

Job = tuple[str, str, int]
"""(problem, optimizer, seed)"""


def run_jobs(
    run_job: Callable[..., dict[str, Any]],
    jobs: Sequence[Job],
    *,
    workers: int,
    scale: float,
    out: Path,
    describe: Callable[[dict[str, Any]], str],
) -> list[dict[str, Any]]:
    """Every job as ``run_job(problem, optimizer, seed, url, scale)``; ``url`` is a live
    server on a scratch SQLite file when some optimizer is Tunehub's, else ``None``."""
    runs: list[dict[str, Any]] = []
    context = multiprocessing.get_context("spawn")
    needs_server = any(o.startswith("tunehub") for _, o, _ in jobs)
    with (
        tempfile.TemporaryDirectory() as folder,
        server_if(needs_server, Path(folder) / "bench.db") as url,
        ProcessPoolExecutor(workers, mp_context=context) as pool,
    ):
        futures = [pool.submit(run_job, p, o, s, url, scale) for p, o, s in jobs]
        for done, future in enumerate(as_completed(futures), 1):
            run = future.result()
            runs.append(run)
            print(
                f"[{done}/{len(jobs)}] {run['problem']} {run['optimizer']} seed {run['seed']}: "
                f"{run['status']}, {describe(run)}, {run['seconds']:.0f} s",
                flush=True,
            )
            if run["status"] != "ok":
                print(run["message"], file=sys.stderr)
            partial = out / "results.json.partial"
            partial.write_text(json.dumps({"runs": runs}))
            partial.replace(out / "results.json")
    return runs


def read_runs(path: Path) -> list[dict[str, Any]]:
    """The runs of a ``results.json`` (or a gzipped one, as the committed runs are)."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    runs: list[dict[str, Any]] = json.loads(data)["runs"]
    return runs
