"""Noisy problems: BoTorch functions observed with Gaussian noise at 1%, 5% and 10% of their range.

The optimizers see noisy values; a run is scored by the noiseless value of the
trial it would recommend (``metrics.best_so_far``), so chasing noise is not rewarded.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bench.quality.problem import Problem
from bench.quality.suite.functions import value_range
from bench.quality.suite.synthetic import function_of, on_box

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
        for level in LEVELS:
            percent = round(100 * level)
            description = f"BoTorch {cls}, {function.dim}-D, noise sd {percent}% of range"
            noiseless = on_box(f"noisy-{base}-{percent}pct", function, description, "noisy")
            out.append(dataclasses.replace(noiseless, noise_sd=level * value_range(function)))
    return out
