"""Scores of a run: hypervolume of (objective, log10 cost) against cost spent, and the
exponents a scaling-law fit over its front finds."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bench.quality.hypervolume import hypervolume_2d
from tunehub.server.analysis import scaling

CURVE_POINTS = 25
FIRST_FRACTION = 0.01


def spends(total: float) -> list[float]:
    """Where the curve is read: geometric from 1% of the budget to all of it."""
    return [float(x) for x in np.geomspace(FIRST_FRACTION * total, total, CURVE_POINTS)]


def hypervolume_at(
    evaluations: Sequence[Mapping[str, Any]], spend: float, reference: Sequence[float]
) -> float:
    points = [
        (e["objective"], math.log10(e["cost"]))
        for e in evaluations
        if e["spent"] <= spend and e["cost"] > 0
    ]
    return hypervolume_2d(points, reference)


def curve(
    evaluations: Sequence[Mapping[str, Any]], total: float, reference: Sequence[float]
) -> list[float]:
    return [hypervolume_at(evaluations, s, reference) for s in spends(total)]


def cost_front(evaluations: Sequence[Mapping[str, Any]], total: float) -> list[Mapping[str, Any]]:
    """The run's (cost, objective) Pareto front within its budget, cheapest first."""
    within = [e for e in evaluations if e["spent"] <= total and e["cost"] > 0]
    costs, values = [e["cost"] for e in within], [e["objective"] for e in within]
    return [within[i] for i in scaling.cost_front(costs, values, maximize=False)]


def found_exponents(
    evaluations: Sequence[Mapping[str, Any]], total: float, names: Sequence[str]
) -> dict[str, float]:
    """Exponents of the parameters as power laws in cost over the run's cost front."""
    front = cost_front(evaluations, total)
    laws = scaling.parameter_laws(
        np.array([e["cost"] for e in front], dtype=float), [e["params"] for e in front], names
    )
    return {name: law.exponent for name, law in laws.items()}
