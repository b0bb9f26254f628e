"""One run of bench/carbs, in a worker process (spawned: it must be importable)."""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import asdict, replace
from typing import Any

from bench.carbs.ledger import Ledger
from bench.carbs.optimizers import OPTIMIZERS
from bench.carbs.problems import PROBLEMS


def run_job(
    problem: str, optimizer: str, seed: int, url: str | None, scale: float = 1.0
) -> dict[str, Any]:
    """One optimizer's run on one problem and seed (in a worker process)."""
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = "1"
    base = PROBLEMS[problem]
    ledger = Ledger(replace(base, total_cost=base.total_cost * scale))
    status, message = "ok", ""
    try:
        OPTIMIZERS[optimizer](ledger, seed, url)
    except Exception:
        status, message = "error", traceback.format_exc(limit=8)
    return {
        "problem": problem,
        "optimizer": optimizer,
        "seed": seed,
        "status": status,
        "message": message,
        "seconds": time.perf_counter() - ledger.started,
        "total_cost": ledger.problem.total_cost,
        "evaluations": [asdict(e) for e in ledger.evaluations],
    }
