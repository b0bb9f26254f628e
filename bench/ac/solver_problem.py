"""The solver-configuration problem: scipy's Krylov solvers on generated PDE instances.

Runtimes are CPU seconds (``time.process_time``) with one BLAS thread: a run's
time does not depend on what else the machine does, so tuners that run side by
side still get the same budget. Each tuner gets ``BUDGET`` CPU seconds of solver
time on the train instances (what its runs used, a cut-off run its cutoff); the
configuration it names at the end is scored on the held-out test instances by
PAR10: the runtime, or 10 x the cutoff for a run that timed out or did not
converge (the median of three runs per instance).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from examples import sparse_solver

SIZES = (40, 110)
"""Grid sides of the instances: from 1,600 to 12,100 unknowns."""
TRAIN = sparse_solver.instances(40, seed=1001, sizes=SIZES)
TEST = sparse_solver.instances(20, seed=2002, sizes=SIZES)
FEATURES = {i["id"]: i["features"] for i in TRAIN + TEST}
CUTOFF = 1.0
"""CPU seconds a run may take."""
PAR = 10
BUDGET = 30.0
"""CPU seconds of solver time per tuning run."""
DEFAULT: dict[str, Any] = {"method": "gmres", "preconditioner": "none", "restart": 20}
"""What a user who calls ``scipy.sparse.linalg.gmres`` without options gets."""


class Spent(Exception):
    """The tuning run's solver time is used up."""


@dataclass
class Run:
    params: dict[str, Any]
    instance: str
    status: str
    """``ok``, ``timeout`` (cut off) or ``crash`` (did not converge)."""
    seconds: float
    """CPU seconds charged."""
    cutoff: float


def run_solver(params: dict[str, Any], instance: str, cutoff: float) -> Run:
    """Solve ``instance`` with ``params`` within ``cutoff`` CPU seconds."""
    started = time.process_time()
    try:
        seconds = sparse_solver.solve(
            params, FEATURES[instance], cutoff=cutoff, clock=time.process_time
        )
    except sparse_solver.CutOff:
        return Run(params, instance, "timeout", time.process_time() - started, cutoff)
    except RuntimeError:
        return Run(params, instance, "crash", time.process_time() - started, cutoff)
    return Run(params, instance, "ok", seconds, cutoff)


def par_score(run: Run) -> float:
    return run.seconds if run.status == "ok" else PAR * CUTOFF


@dataclass
class SolverLedger:
    """Every solver run of one tuning run, charged against ``budget`` CPU seconds."""

    budget: float = BUDGET
    runs: list[Run] = field(default_factory=list)
    spent: float = 0.0

    def run(self, params: dict[str, Any], instance: str, cutoff: float | None = None) -> Run:
        if self.spent >= self.budget:
            raise Spent
        clean = {k: v.item() if hasattr(v, "item") else v for k, v in params.items()}
        done = run_solver(clean, instance, min(cutoff or CUTOFF, CUTOFF))
        self.runs.append(done)
        self.spent += done.seconds
        return done


REPEATS = 3
"""Runs per test instance; the median is the score, so one run slowed by the machine
does not decide it."""


def scores_on_test(params: dict[str, Any], repeats: int = REPEATS) -> list[float]:
    """PAR10 of ``params`` on every test instance, in order (median of ``repeats`` runs)."""
    return [
        statistics.median(par_score(run_solver(params, i["id"], CUTOFF)) for _ in range(repeats))
        for i in TEST
    ]
