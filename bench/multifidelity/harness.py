"""One run of one optimizer on one problem and seed, in a worker process."""

from __future__ import annotations

import importlib.util
import time
import traceback
from typing import Any

from bench.multifidelity.ledger import Ledger
from bench.multifidelity.optimizers import OPTIMIZERS, REQUIRES
from bench.multifidelity.problems import get_problem, scaled


def run_job(
    problem: str, optimizer: str, seed: int, url: str | None, budget_scale: float = 1.0
) -> dict[str, Any]:
    """One run in a worker process; its exception becomes the run's error."""
    started = time.perf_counter()
    out: dict[str, Any] = {"problem": problem, "optimizer": optimizer, "seed": seed}
    package = REQUIRES.get(optimizer)
    if package is not None and importlib.util.find_spec(package) is None:
        return {**out, "status": "not installed", "message": f"no module named {package!r}"}
    ledger = Ledger(scaled(get_problem(problem), budget_scale))
    try:
        OPTIMIZERS[optimizer](ledger, seed, url)
        status, message = "ok", ""
    except Exception as error:
        status = "error"
        message = f"{type(error).__name__}: {error}\n" + traceback.format_exc()[-3000:]
    return {
        **out,
        "status": status,
        "message": message,
        "seconds": round(time.perf_counter() - started, 2),
        "spent": ledger.spent,
        "evaluations": [e.to_json() for e in ledger.evaluations],
    }
