"""Which trials a plot of a big study shows: few enough to draw at once, yet telling all.

A browser can draw a few thousand points quickly, not a study's every trial. The
sample keeps, in this order while there is room: the trials that set a new best
(so the best-so-far line is exact), the 2-D Pareto front the dashboard draws,
the best fifth by each objective, then an even spread of the rest in trial order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from tunehub.schema import Direction, Objective, TrialState
from tunehub.server.analysis.pareto import staircase

T = TypeVar("T")


@dataclass(frozen=True)
class PlotPoint:
    """What the sample looks at in a trial."""

    number: int
    state: str
    values: dict[str, float] | None
    cost: float | None
    budget: float | None


def thinned(rows: Sequence[T], keep: int) -> list[T]:
    """At most ``keep`` rows, evenly spaced, the first and the last always among them."""
    if len(rows) <= keep:
        return list(rows)
    if keep <= 1:
        return list(rows[-keep:]) if keep else []
    last = len(rows) - 1
    picks = sorted({round(i * last / (keep - 1)) for i in range(keep)})
    return [rows[i] for i in picks]


def plot_sample(
    points: Sequence[PlotPoint], objectives: Sequence[Objective], limit: int
) -> list[int]:
    """Indices into ``points`` (in trial-number order) of at most ``limit`` trials to plot."""
    if len(points) <= limit:
        return list(range(len(points)))
    done = [i for i, p in enumerate(points) if p.state == TrialState.COMPLETED and p.values]
    tiers: list[list[int]] = [done[-1:]]
    for objective in objectives:
        tiers.append(_improvements(points, done, objective))
    tiers.append(_front(points, done, objectives))
    per_objective = max(1, limit // (5 * len(objectives)))
    for objective in objectives:
        tiers.append(_best(points, done, objective, per_objective))
    keep: set[int] = set()
    for tier in tiers:
        fresh = [i for i in tier if i not in keep]
        keep.update(thinned(sorted(fresh), limit - len(keep)))
    rest = [i for i in range(len(points)) if i not in keep]
    keep.update(thinned(rest, limit - len(keep)))
    return sorted(keep)


def _score(objective: Objective) -> Callable[[PlotPoint], float]:
    """Smaller is better: the objective's value with its sign applied."""
    sign = -1.0 if objective.direction == Direction.MAXIMIZE else 1.0

    def score(point: PlotPoint) -> float:
        value = (point.values or {}).get(objective.name)
        return sign * value if value is not None and math.isfinite(value) else math.inf

    return score


def _improvements(points: Sequence[PlotPoint], done: list[int], objective: Objective) -> list[int]:
    """Trials that set a new best so far, at any budget and among the top budget's results."""
    score = _score(objective)
    budgets = [b for i in done if (b := points[i].budget) is not None]
    top = max(budgets) if budgets else None
    found: list[int] = []
    for only_top in (False, True) if top is not None else (False,):
        best = math.inf
        for i in done:
            if only_top and points[i].budget != top:
                continue
            if score(points[i]) < best:
                best = score(points[i])
                found.append(i)
    return found


def _front(
    points: Sequence[PlotPoint], done: list[int], objectives: Sequence[Objective]
) -> list[int]:
    """The non-dominated trials on the two axes the dashboard plots against each other.

    Those are the first two objectives, or cost and the one objective.
    """
    if len(objectives) >= 2:
        first, second = _score(objectives[0]), _score(objectives[1])
    else:
        second = _score(objectives[0])

        def first(point: PlotPoint) -> float:
            return point.cost if point.cost is not None and math.isfinite(point.cost) else math.inf

    finite = [
        i for i in done if math.isfinite(first(points[i])) and math.isfinite(second(points[i]))
    ]
    xs = [first(points[i]) for i in finite]
    ys = [second(points[i]) for i in finite]
    return [finite[k] for k in staircase(xs, ys)]


def _best(
    points: Sequence[PlotPoint], done: list[int], objective: Objective, count: int
) -> list[int]:
    score = _score(objective)
    return sorted(done, key=lambda i: (score(points[i]), points[i].number))[:count]
