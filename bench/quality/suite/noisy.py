"""Noisy problems: BoTorch functions observed with Gaussian noise at 1%, 5% and 10% of their range.

The optimizers see noisy values; a run is scored by the noiseless value of the
trial it would recommend (``metrics.best_so_far``), so chasing noise is not rewarded.
"""

from __future__ import annotations

from typing import Any

from bench.quality.problem import Problem
from bench.quality.suite.functions import OnCoordinates, box_space, value_range
from bench.quality.suite.synthetic import function_of

BUDGET = 50
LEVELS = (0.01, 0.05, 0.10)
"""Noise standard deviations as fractions of the function's range (``value_range``)."""

BASES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("branin", "Branin", {}),
    ("hartmann-3", "Hartmann", {"dim": 3}),
    ("hartmann-6", "Hartmann", {"dim": 6}),
    ("levy-4", "Levy", {"dim": 4}),
)


def problems() -> list[Problem]:
    out = []
    for base, cls, kwargs in BASES:
        function = function_of(cls, kwargs)
        names = tuple(f"x{i}" for i in range(function.dim))
        for level in LEVELS:
            percent = round(100 * level)
            out.append(
                Problem(
                    name=f"noisy-{base}-{percent}pct",
                    description=f"BoTorch {cls}, {function.dim}-D, noise sd {percent}% of range",
                    space=box_space(names, function.bounds),
                    objectives=("f",),
                    budget=BUDGET,
                    evaluate=OnCoordinates(function, names),
                    optimum=function.optimum,
                    family="noisy",
                    noise_sd=level * value_range(function),
                )
            )
    return out
