"""bench/carbs problems: the closed-form optimum is optimal, costs are what they claim."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.carbs import problems
from tunehub.server.analysis import scaling


def test_the_closed_form_optimum_beats_every_nearby_setting_at_its_cost() -> None:
    rng = np.random.default_rng(0)
    for cost in (1.0, 1e3, 1e6):
        best = problems.chinchilla_optimum(cost)
        loss, charged = problems.chinchilla(best)
        assert charged == pytest.approx(cost)
        for _ in range(200):
            scale = math.exp(rng.normal(0, 0.5))  # same compute, other split
            other = {
                **best,
                "n_params": best["n_params"] * scale,
                "tokens": best["tokens"] / scale,
                "lr": best["lr"] * math.exp(rng.normal(0, 0.5)),
                "warmup": float(rng.uniform(0, 0.3)),
            }
            other_loss, other_cost = problems.chinchilla(other)
            assert other_cost == pytest.approx(cost) and other_loss >= loss - 1e-12


def test_the_optimal_front_has_the_stated_exponents() -> None:
    costs = np.geomspace(1.0, 1e6, 7)
    front = [problems.chinchilla_optimum(c) for c in costs]
    laws = scaling.parameter_laws(costs, front, ["n_params", "tokens", "lr"])
    for name, exponent in problems.PROBLEMS["chinchilla"].exponents.items():
        assert laws[name].exponent == pytest.approx(exponent, rel=1e-6)


def test_mlp_digits_charges_its_training_flops() -> None:
    params = {"hidden": 16, "epochs": 2, "lr": 3e-3, "weight_decay": 1e-4, "dropout": 0.1}
    loss, cost = problems.mlp_digits(params)
    assert 0.0 < loss < 2.5
    doubled = problems.mlp_digits({**params, "epochs": 4})
    assert doubled[1] == pytest.approx(2 * cost) and doubled[0] < loss
