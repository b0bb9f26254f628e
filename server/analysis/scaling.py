"""Scaling laws read off a study's cost-objective Pareto front.

Along the front, each configuration is the best found at its cost. Fitting its
numeric parameters as power laws in cost (``p = a * cost^b``, a line in log-log)
says how to set them at a cost not tried yet, as in "Tune As You Scale"
(Fetterman et al. 2023). The objective is fitted with an asymptote,
``objective = E -/+ A * cost^-alpha``: the gap to what no budget gets below (a
Chinchilla-style loss floor) shrinks as a power law.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tunehub.server.analysis.outcomes import LARGEST, capped, needs_taming
from tunehub.server.analysis.pareto import staircase

Array = npt.NDArray[np.float64]

MIN_POINTS = 3
MAX_FIT_POINTS = 400
"""A power law is fitted to at most this many points of the front, evenly spread along it:
Theil-Sen takes every pair's slope, and 3,000 points on 50 parameters took 11 s a read."""
ASYMPTOTE_GRID = 200


@dataclass(frozen=True)
class PowerLaw:
    """``y = coefficient * cost^exponent``, a Theil-Sen line in log-log, and its R^2."""

    coefficient: float
    exponent: float
    r2: float
    points: int

    def at(self, cost: float) -> float:
        return _finite(lambda: self.coefficient * cost**self.exponent)


@dataclass(frozen=True)
class ObjectiveLaw:
    """``objective = asymptote + sign * coefficient * cost^-decay`` (sign: +1 when minimized)."""

    asymptote: float
    coefficient: float
    decay: float
    sign: float
    r2: float
    points: int

    def at(self, cost: float) -> float:
        return _finite(
            lambda: self.asymptote + self.sign * self.coefficient * cost ** (-self.decay)
        )


def cost_front(costs: Sequence[float], values: Sequence[float], maximize: bool) -> list[int]:
    """Indices of the cost-objective Pareto front, cheapest first (ties: the first)."""
    sign = -1.0 if maximize else 1.0
    return staircase(costs, [sign * v for v in values])


def power_law(cost: Array, y: Array) -> PowerLaw | None:
    """Least squares in log-log; ``None`` without ``MIN_POINTS`` positive points over 2 costs."""
    keep = (cost > 0) & (y > 0) & np.isfinite(y)
    if keep.sum() < MIN_POINTS or np.ptp(np.log(cost[keep])) == 0:
        return None
    x, z = np.log(cost[keep]), np.log(y[keep])
    if len(x) > MAX_FIT_POINTS:
        spread = np.unique(np.linspace(0, len(x) - 1, MAX_FIT_POINTS).round().astype(int))
        x, z = x[spread], z[spread]
    # Theil-Sen: the front's cheap end often holds a poor configuration that is only
    # there for being cheap; one such point must not turn the law around.
    from scipy.stats import theilslopes  # scipy.stats is slow to import: only fits pay

    with np.errstate(all="ignore"):
        slope, intercept, _, _ = theilslopes(z, x, method="joint")
        law = PowerLaw(
            _finite(lambda: math.exp(intercept)),
            float(slope),
            _r2(x, z, slope, intercept),
            len(x),
        )
    return law if _all_finite(law.coefficient, law.exponent, law.r2) else None


def objective_law(cost: Array, value: Array, maximize: bool) -> ObjectiveLaw | None:
    """The asymptote whose gap is most nearly a power law in cost (grid over candidates);
    ``None`` also for values so far apart that their gaps overflow a double."""
    keep = (cost > 0) & np.isfinite(value)
    cost, value = cost[keep], value[keep]
    if len(cost) < MIN_POINTS or np.ptp(np.log(cost)) == 0:
        return None
    if needs_taming(value):
        return None
    with np.errstate(all="ignore"):
        law = _objective_law(cost, value, maximize)
    fields = (law.asymptote, law.coefficient, law.decay, law.r2)
    return law if _all_finite(*fields) else None


def _objective_law(cost: Array, value: Array, maximize: bool) -> ObjectiveLaw:
    sign = -1.0 if maximize else 1.0  # objective = asymptote + sign * gap
    best_seen = float(value.max() if maximize else value.min())
    spread = float(np.ptp(value)) or abs(best_seen) or 1.0
    log_cost = np.log(cost)

    def fit(step: float) -> ObjectiveLaw:
        asymptote = best_seen - sign * step * spread
        slope, intercept, r2 = _line(log_cost, np.log(sign * (value - asymptote)))
        return ObjectiveLaw(asymptote, math.exp(intercept), -slope, sign, r2, len(cost))

    # Asymptotes beyond the best value seen, from just past it to ten spreads away: a
    # grid, then a bounded search between the best grid point's neighbours.
    grid = np.geomspace(1e-4, 10.0, ASYMPTOTE_GRID)
    best = max(range(len(grid)), key=lambda i: fit(float(grid[i])).r2)
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    from scipy.optimize import minimize_scalar

    refined = minimize_scalar(
        lambda log_step: -fit(math.exp(log_step)).r2,
        bounds=(math.log(low), math.log(high)),
        method="bounded",
        options={"xatol": 1e-6},
    )
    candidates = [fit(float(grid[best])), fit(math.exp(float(refined.x)))]
    return max(candidates, key=lambda law: law.r2)


def parameter_laws(
    cost: Array, params: Sequence[Mapping[str, object]], names: Sequence[str]
) -> dict[str, PowerLaw]:
    """A power law per numeric parameter set on every front member with a positive value."""
    laws: dict[str, PowerLaw] = {}
    for name in names:
        raw = [p.get(name) for p in params]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw):
            continue
        law = power_law(cost, np.array(raw, dtype=float))
        if law is not None:
            laws[name] = law
    return laws


def _finite(compute: Callable[[], float]) -> float:
    """``compute()`` within the largest finite double (an overflow is that double)."""
    try:
        value = float(compute())
    except OverflowError:
        return LARGEST
    return value if math.isnan(value) else capped(value)


def _all_finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def _line(x: Array, y: Array) -> tuple[float, float, float]:
    """Slope, intercept and R^2 of the least-squares line."""
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept), _r2(x, y, slope, intercept)


def _r2(x: Array, y: Array, slope: float, intercept: float) -> float:
    """R^2 of a line through the points (1 for a flat exact fit)."""
    residual = float(np.sum((y - (slope * x + intercept)) ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - residual / total if total > 0 else 1.0
