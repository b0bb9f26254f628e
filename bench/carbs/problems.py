"""Problems where cost and quality pull apart, each with the cost a trial charges.

``chinchilla`` has a known answer: the loss of a model of ``N`` parameters trained
on ``D`` tokens is ``E + A/N^alpha + B/D^beta`` (Hoffmann et al. 2022's fitted
constants) for a compute of ``6 N D``, plus a learning-rate term whose best value
falls with ``N``. The compute-optimal ``N`` grows as ``C^(beta/(alpha+beta))``, the
exponent a scaling-law fit over the found front should recover. ``mlp-digits``
is real: a PyTorch MLP on scikit-learn's digits, charged its training FLOPs.

Every objective is minimized; costs are deterministic functions of the settings,
so every optimizer is charged alike whatever the machine's load.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Params = dict[str, Any]

# Hoffmann et al. (2022), approach 3.
E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28
LR_SHIFT = -0.3
"""The best learning rate scales as N^-0.3."""


@dataclass(frozen=True)
class Problem:
    name: str
    description: str
    space: dict[str, dict[str, Any]]
    """Tunehub's wire form; the adapters translate it for the peers."""
    objective: str
    evaluate: Callable[[Params], tuple[float, float]]
    """The objective value and the cost charged."""
    total_cost: float
    """What every optimizer may spend in one run."""
    reference: tuple[float, float]
    """Hypervolume reference point: (objective, log10 cost), both minimized."""
    exponents: dict[str, float] = field(default_factory=dict)
    """Known exponents of parameters as power laws in cost along the optimal front."""
    optimum: Callable[[float], Params] | None = None
    """The best settings at a cost, where known (the plots draw the true front)."""


def chinchilla_lr(n: float) -> float:
    return 3e-3 * (n / 1e8) ** LR_SHIFT


def chinchilla(params: Params) -> tuple[float, float]:
    n, d = float(params["n_params"]), float(params["tokens"])
    loss = E + A / n**ALPHA + B / d**BETA
    loss += 0.05 * math.log(float(params["lr"]) / chinchilla_lr(n)) ** 2
    loss += 0.5 * (float(params["warmup"]) - 0.05) ** 2
    return loss, 6.0 * n * d / 1e15  # PFLOP


def chinchilla_optimum(cost: float) -> Params:
    """The best settings at a compute of ``cost`` PFLOP (closed form)."""
    flops = cost * 1e15
    g = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
    n = g * (flops / 6.0) ** (BETA / (ALPHA + BETA))
    return {"n_params": n, "tokens": flops / (6.0 * n), "lr": chinchilla_lr(n), "warmup": 0.05}


def mlp_digits(params: Params) -> tuple[float, float]:
    from bench.multifidelity.mlp_task import validation_loss

    epochs = int(params["epochs"])
    settings = {k: v for k, v in params.items() if k != "epochs"}
    loss = validation_loss({**settings, "batch": 64}, epochs)
    hidden = int(params["hidden"])
    # Training multiply-adds, forward and backward: 6 per weight per example.
    flops = 6.0 * (64 * hidden + hidden * 10) * 1257 * epochs
    return loss, flops / 1e9  # GFLOP


PROBLEMS: dict[str, Problem] = {
    "chinchilla": Problem(
        name="chinchilla",
        description="E + A/N^a + B/D^b at compute 6ND, a learning rate that shifts with N",
        space={
            "n_params": {"type": "float", "low": 1e6, "high": 1e10, "log": True},
            "tokens": {"type": "float", "low": 1e8, "high": 1e12, "log": True},
            "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
            "warmup": {"type": "float", "low": 0.0, "high": 0.3},
        },
        objective="loss",
        evaluate=chinchilla,
        total_cost=5e7,
        reference=(6.0, 8.0),
        exponents={
            "n_params": BETA / (ALPHA + BETA),
            "tokens": ALPHA / (ALPHA + BETA),
            "lr": LR_SHIFT * BETA / (ALPHA + BETA),
        },
        optimum=chinchilla_optimum,
    ),
    "mlp-digits": Problem(
        name="mlp-digits",
        description="PyTorch MLP on digits: validation cross-entropy against training GFLOP",
        space={
            "hidden": {"type": "int", "low": 8, "high": 1024, "log": True},
            "epochs": {"type": "int", "low": 1, "high": 64, "log": True},
            "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
            "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-1, "log": True},
            "dropout": {"type": "float", "low": 0.0, "high": 0.5},
        },
        objective="loss",
        evaluate=mlp_digits,
        total_cost=300.0,
        reference=(2.5, 3.0),
    ),
}
