"""Problems with a fidelity: the loss of a configuration after ``budget`` units of training.

Every problem is minimized and deterministic for (configuration, budget), as
training with fixed seeds is: a run resumed from its parent's budget reaches the
same loss as one trained from scratch, so a scheduler that resumes is charged
only for the budget it adds (``cost``). ``true`` is the loss at the max budget,
what the incumbent is judged by.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.quality import functions
from bench.quality.space import Space

Params = dict[str, Any]


@dataclass(frozen=True)
class Fidelity:
    min: float
    max: float
    eta: float = 3.0

    def spec(self, name: str) -> dict[str, Any]:
        return {"name": name, "min": self.min, "max": self.max, "eta": self.eta}


@dataclass(frozen=True)
class MFProblem:
    name: str
    description: str
    space: Space
    fidelity: Fidelity
    evaluate: Callable[[Params, float], float]
    """The loss after training ``params`` for a budget."""
    optimum: float | None
    """The known minimum of the loss at the max budget (``None``: the best any run found)."""
    target: float
    """The regret (or, without a known optimum, the loss) that counts as reaching the goal."""
    full_evaluations: int
    """The total budget of a run, in evaluations at the max budget."""

    def true(self, params: Params) -> float:
        return self.evaluate(params, self.fidelity.max)

    @property
    def total_budget(self) -> float:
        return self.full_evaluations * self.fidelity.max


def _share(budget: float, fidelity: Fidelity) -> float:
    """The fidelity in [0, 1] of BoTorch's augmented test functions (log scale)."""
    return math.log(budget / fidelity.min) / math.log(fidelity.max / fidelity.min)


_EPOCHS = Fidelity(min=1, max=27, eta=3)


def _augmented_branin(p: Params, budget: float) -> float:
    """BoTorch's AugmentedBranin: the quadratic's coefficient shifts at low fidelity."""
    s = _share(budget, _EPOCHS)
    x1, x2 = p["x1"], p["x2"]
    b = 5.1 / (4 * math.pi**2) - 0.1 * (1 - s)
    c, t = 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def _augmented_hartmann(p: Params, budget: float) -> float:
    """BoTorch's AugmentedHartmann: the first basin's weight drops at low fidelity."""
    s = _share(budget, _EPOCHS)
    x = np.array([p[f"x{i}"] for i in range(6)])
    alpha = functions._HARTMANN6_ALPHA.copy()
    alpha[0] -= 0.1 * (1 - s)
    inner = np.sum(functions._HARTMANN6_A * (x - functions._HARTMANN6_P) ** 2, axis=1)
    return float(-np.sum(alpha * np.exp(-inner)))


def _noise(p: Mapping[str, Any], budget: float, scale: float) -> float:
    """Deterministic noise per (configuration, budget), like a fixed training seed."""
    key = repr(sorted(p.items())) + f"|{budget:g}"
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return scale * float(np.random.default_rng(digest).normal())


def _curves(p: Params, budget: float) -> float:
    """Learning curves ``a + b * (1 + r)**-c`` that cross.

    A large learning rate learns fast (large ``c``) but ends higher (its ``a``
    grows past the best rate), so the best configuration after 1 epoch is not
    the best after 81: ranking by early results alone misleads, as in real
    training, and a scheduler must keep enough of them to the end.
    """
    lr, width, decay, momentum = p["lr"], p["width"], p["decay"], p["momentum"]
    u = (math.log10(lr) + 4) / 4  # 0 .. 1 over [1e-4, 1]
    asymptote = (
        0.05
        + 0.6 * (u - 0.45) ** 2
        + 0.3 * (math.log2(width) / 10 - 0.7) ** 2
        + 0.2 * (decay - 0.3) ** 2
        + 0.1 * momentum * (u - 0.2)
    )
    speed = 0.3 + 2.5 * u + 0.4 * momentum
    return asymptote + 1.5 * (1 + budget) ** -speed + _noise(p, budget, 0.003)


_CURVE_SPACE: Space = {
    "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
    "width": {"type": "int", "low": 16, "high": 1024, "log": True},
    "decay": {"type": "float", "low": 0.0, "high": 1.0},
    "momentum": {"type": "categorical", "choices": [0.0, 0.5, 0.9]},
}


def _curves_optimum() -> float:
    """The minimum of the curves' asymptote plus the 81-epoch term, on a fine grid."""
    best = math.inf
    for lr in np.logspace(-4, 0, 401):
        for width in (2**k for k in range(4, 11)):
            for momentum in (0.0, 0.5, 0.9):
                p = {"lr": float(lr), "width": width, "decay": 0.3, "momentum": momentum}
                best = min(best, _curves(p, 81) - _noise(p, 81, 0.003))
    return best


def _mlp(p: Params, budget: float) -> float:
    from bench.multifidelity.mlp_task import validation_loss

    return validation_loss(p, round(budget))


PROBLEMS: dict[str, Callable[[], MFProblem]] = {
    "branin-mf": lambda: MFProblem(
        "branin-mf",
        "BoTorch's augmented Branin, epochs 1..27 as its fidelity (log scale)",
        {
            "x1": {"type": "float", "low": -5.0, "high": 10.0},
            "x2": {"type": "float", "low": 0.0, "high": 15.0},
        },
        _EPOCHS,
        _augmented_branin,
        functions.BRANIN_MIN,
        target=0.05,
        full_evaluations=30,
    ),
    "hartmann6-mf": lambda: MFProblem(
        "hartmann6-mf",
        "BoTorch's augmented Hartmann 6-D, epochs 1..27 as its fidelity (log scale)",
        {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(6)},
        _EPOCHS,
        _augmented_hartmann,
        functions.HARTMANN6_MIN,
        target=0.5,
        full_evaluations=40,
    ),
    "curves": lambda: MFProblem(
        "curves",
        "generated learning curves a + b r^-c that cross (fast learners end worse), 1..81 epochs",
        _CURVE_SPACE,
        Fidelity(min=1, max=81, eta=3),
        _curves,
        _curves_optimum(),
        target=0.02,
        full_evaluations=30,
    ),
    "mlp-digits": lambda: MFProblem(
        "mlp-digits",
        "a PyTorch MLP on scikit-learn's digits (CPU), validation loss after 1..27 epochs",
        {
            "lr": {"type": "float", "low": 1e-4, "high": 0.3, "log": True},
            "hidden": {"type": "int", "low": 16, "high": 512, "log": True},
            "dropout": {"type": "float", "low": 0.0, "high": 0.6},
            "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-1, "log": True},
            "batch": {"type": "categorical", "choices": [16, 64, 256]},
        },
        _EPOCHS,
        _mlp,
        None,
        target=0.075,
        full_evaluations=20,
    ),
}


def scaled(problem: MFProblem, budget_scale: float) -> MFProblem:
    """``problem`` with its total budget scaled (at least one max-budget evaluation)."""
    runs = max(1, round(problem.full_evaluations * budget_scale))
    return dataclasses.replace(problem, full_evaluations=runs)


def get_problem(name: str) -> MFProblem:
    try:
        return PROBLEMS[name]()
    except KeyError:
        raise ValueError(f"unknown problem {name!r}: choose from {sorted(PROBLEMS)}") from None
