"""Scaling laws over a cost-objective front: exponents and asymptotes come back."""

from __future__ import annotations

import numpy as np
import pytest

from tunehub.server.analysis import scaling

# A Chinchilla-style loss E + A/N^alpha + B/D^beta with cost C = N * D.
E, A, B, ALPHA, BETA = 1.7, 400.0, 410.0, 0.34, 0.28


def optimal(cost: float) -> tuple[float, float, float]:
    """The compute-optimal N, D and loss at ``cost`` (closed form)."""
    n = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA)) * cost ** (BETA / (ALPHA + BETA))
    d = cost / n
    return n, d, E + A / n**ALPHA + B / d**BETA


def test_parameter_and_objective_laws_recover_the_exponents() -> None:
    costs = np.geomspace(1e6, 1e12, 9)
    ns, ds, losses = zip(*(optimal(c) for c in costs))
    laws = scaling.parameter_laws(
        costs, [{"n": n, "d": d, "act": "relu"} for n, d in zip(ns, ds)], ["n", "d", "act"]
    )
    assert set(laws) == {"n", "d"}
    assert laws["n"].exponent == pytest.approx(BETA / (ALPHA + BETA), rel=1e-6)
    assert laws["d"].exponent == pytest.approx(ALPHA / (ALPHA + BETA), rel=1e-6)
    assert laws["n"].r2 == pytest.approx(1.0) and laws["n"].at(1e9) == pytest.approx(
        optimal(1e9)[0]
    )
    law = scaling.objective_law(costs, np.array(losses), maximize=False)
    assert law is not None and law.r2 > 0.999
    assert law.asymptote == pytest.approx(E, rel=0.05)
    assert law.decay == pytest.approx(ALPHA * BETA / (ALPHA + BETA), rel=0.1)
    assert law.at(1e13) == pytest.approx(optimal(1e13)[2], rel=0.01)


def test_an_accuracy_rises_toward_its_ceiling() -> None:
    costs = np.geomspace(1.0, 1000.0, 8)
    accuracy = 0.95 - 0.4 * costs**-0.5
    law = scaling.objective_law(costs, accuracy, maximize=True)
    assert law is not None and law.sign == -1.0
    assert law.asymptote == pytest.approx(0.95, abs=0.01) and law.decay == pytest.approx(
        0.5, rel=0.1
    )


def test_the_front_keeps_only_improvements_and_too_few_points_fit_nothing() -> None:
    costs = [4.0, 1.0, 2.0, 2.0, 8.0]
    losses = [0.5, 0.9, 0.7, 0.6, 0.55]
    assert scaling.cost_front(costs, losses, maximize=False) == [1, 3, 0]
    assert scaling.cost_front(costs, losses, maximize=True) == [1]
    two = np.array([1.0, 2.0])
    assert scaling.power_law(two, two) is None
    assert scaling.objective_law(np.ones(5), np.arange(5.0), maximize=False) is None
