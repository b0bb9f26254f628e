"""Best-so-far against budget spent, budget to reach a target, and "within noise".

The incumbent after each evaluation is the best loss among the evaluations at
the highest budget reached so far (what a user would deploy), judged by its
loss at the max budget (``problem.true``): its regret against the known optimum,
or the loss itself where the optimum is unknown.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from bench.multifidelity.problems import MFProblem

Trace = list[tuple[float, float]]
"""(budget spent, incumbent regret) after each evaluation, in order."""


def trace(problem: MFProblem, evaluations: Sequence[dict[str, Any]]) -> Trace:
    out: Trace = []
    top, best_loss, regret = -math.inf, math.inf, math.inf
    cache: dict[str, float] = {}
    for e in evaluations:
        if e["budget"] > top:
            top, best_loss = e["budget"], math.inf
        if e["budget"] == top and e["loss"] < best_loss:
            best_loss = e["loss"]
            key = repr(sorted(e["params"].items()))
            if key not in cache:
                cache[key] = problem.true(e["params"]) - (problem.optimum or 0.0)
            regret = cache[key]
        out.append((e["spent"], regret))
    return out


def budget_to_target(problem: MFProblem, points: Trace) -> float:
    """Budget spent (in max-budget evaluations) when regret first reached the target."""
    for spent, regret in points:
        if regret <= problem.target:
            return spent / problem.fidelity.max
    return math.inf


def final(points: Trace) -> float:
    return points[-1][1] if points else math.inf


def at(points: Trace, spent: float) -> float:
    """The regret once ``spent`` was spent (inf before the first evaluation)."""
    value = math.inf
    for when, regret in points:
        if when > spent:
            break
        value = regret
    return value


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def iqr(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (math.nan, math.nan)
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def same_within_noise(a: Sequence[float], b: Sequence[float]) -> tuple[bool, float]:
    """Two-sided Mann-Whitney U at 5%: ``(no significant difference, p)``."""
    from scipy.stats import mannwhitneyu

    if len(a) < 2 or len(b) < 2:
        return False, math.nan
    p = float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
    return p > 0.05, p
