"""Constrained engineering problems from BoTorch: outcome constraints told as metrics.

Each constraint's slack is a metric ``c<i>`` that must stay ``>= 0``. The
optimum is the best known feasible value: BoTorch's published one, or lower
where a local search from the best feasible Sobol' points found a feasible
point below it in BoTorch's formulation (``BEST_KNOWN`` keeps that point, and
the tests evaluate it). The penalty charged before the first feasible trial
is the worst feasible value among 2^15 Sobol' points.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.quality.problem import Constraint, Problem
from bench.quality.suite.functions import BotorchFunction, box_space, sobol_box

BUDGET = 50
PENALTY_SAMPLES = 2**15

BEST_KNOWN: dict[str, tuple[float, tuple[float, ...] | None]] = {
    # BoTorch's published optimum; SLSQP from the best feasible Sobol' points stays above it.
    "PressureVessel": (6059.946341, None),
    "WeldedBeamSO": (
        1.5870775123426877,
        (0.1679999999000009, 4.067084776209054, 10.0, 0.1680000000000003),
    ),
    "TensionCompressionString": (
        0.012665232791828004,
        (0.05168905818256872, 0.3567176699841195, 11.288969847404466),
    ),
    "SpeedReducer": (
        2996.3487682596583,
        (
            3.5000001686588282,
            0.7,
            17.000002637805654,
            7.30000098110666,
            7.800000747269985,
            3.3502147119266015,
            5.28668329986452,
        ),
    ),
}
NAMES = {
    "PressureVessel": "pressure-vessel",
    "WeldedBeamSO": "welded-beam",
    "TensionCompressionString": "tension-compression-string",
    "SpeedReducer": "speed-reducer",
}


@dataclass(frozen=True)
class WithSlacks:
    """A problem's ``evaluate``: the objective ``f`` and each constraint's slack ``c<i>``."""

    function: BotorchFunction

    def __call__(self, params: dict[str, Any]) -> dict[str, float]:
        x = [[params[f"x{i}"] for i in range(self.function.dim)]]
        out = {"f": float(self.function.values(x)[0])}
        out.update({f"c{i}": float(s) for i, s in enumerate(self.function.slacks(x)[0])})
        return out


@functools.cache
def penalty_of(function: BotorchFunction) -> float:
    points = sobol_box(function.bounds, PENALTY_SAMPLES)
    values = function.values(points)
    feasible = (function.slacks(points) >= 0).all(axis=1)
    return float(values[feasible].max() if feasible.any() else values.max())


def problems() -> list[Problem]:
    out = []
    for cls, (best, _) in BEST_KNOWN.items():
        function = BotorchFunction(cls)
        k = int(function.module.num_constraints)
        names = tuple(f"x{i}" for i in range(function.dim))
        out.append(
            Problem(
                name=NAMES[cls],
                description=f"BoTorch {cls}, {function.dim}-D, {k} constraints (slack >= 0)",
                space=box_space(names, function.bounds),
                objectives=("f",),
                budget=BUDGET,
                evaluate=WithSlacks(function),
                optimum=best,
                constraints=tuple(Constraint(f"c{i}", ">=", 0.0) for i in range(k)),
                penalty=penalty_of(function),
                family="constrained",
            )
        )
    return out


def feasible_values(function: BotorchFunction, n: int) -> np.ndarray[Any, Any]:
    """The objective at the feasible ones of ``n`` Sobol' points (the tests' lower-bound check)."""
    points = sobol_box(function.bounds, n)
    feasible = (function.slacks(points) >= 0).all(axis=1)
    out: np.ndarray[Any, Any] = function.values(points)[feasible]
    return out
