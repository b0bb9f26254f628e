"""Studies of every kind a dashboard shows, made through the SDK against a live server."""

from __future__ import annotations

import math
import random
from typing import Any

import tunehub

SPACE: dict[str, Any] = {
    "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
    "layers": {"type": "int", "low": 1, "high": 6},
    "optimizer": {"type": "categorical", "choices": ["adam", "sgd"]},
    "momentum": {
        "type": "float",
        "low": 0.0,
        "high": 0.99,
        "condition": {"optimizer": ["sgd"]},
    },
}


def loss_of(params: dict[str, Any]) -> float:
    penalty = 0.3 if params["optimizer"] == "sgd" else 0.0
    return (math.log10(params["lr"]) + 2.5) ** 2 + 0.1 * (params["layers"] - 3) ** 2 + penalty


def single_objective(client: tunehub.Client, name: str, trials: int = 40) -> tunehub.Study:
    """Random search with costs, a few failures and one trial left running."""
    study = client.create_study(name=name, space=SPACE, objectives="loss", seed=1)
    for i in range(trials):
        trial = study.ask(worker=f"w{i % 3}")
        if i % 13 == 5:
            trial.fail(f"Traceback (most recent call last):\nRuntimeError: diverged at step {i}")
        else:
            trial.tell(loss_of(trial.params), cost=1.0 + trial.params["layers"] * 0.5)
    study.ask(worker="w-running")
    return study


def multi_objective(client: tunehub.Client, name: str, trials: int = 30) -> tunehub.Study:
    study = client.create_study(
        name=name,
        space=SPACE,
        objectives=[
            {"name": "loss", "direction": "minimize"},
            {"name": "latency_ms", "direction": "minimize"},
        ],
        seed=2,
    )
    for _ in range(trials):
        trial = study.ask()
        latency = 5.0 * trial.params["layers"] + 40.0 * trial.params["lr"]
        trial.tell({"loss": loss_of(trial.params), "latency_ms": latency})
    return study


def multi_fidelity(client: tunehub.Client, name: str, trials: int = 40) -> tunehub.Study:
    """Hyperband over epochs 1..9: trials report every epoch they train, resuming their parent."""
    study = client.create_study(
        name=name,
        space=SPACE,
        objectives="loss",
        policy="hyperband",
        fidelity={"name": "epochs", "min": 1, "max": 9, "eta": 3},
        seed=3,
    )
    rng = random.Random(3)
    for _ in range(trials):
        trial = study.ask()
        assert trial.budget is not None
        parent = trial.parent
        start = int(parent.budget or 0) if parent is not None else 0
        floor = loss_of(trial.params)
        value = floor
        for epoch in range(start + 1, int(trial.budget) + 1):
            value = floor + 2.0 / epoch + rng.uniform(0, 0.05)
            trial.report(epoch, value)
        trial.tell(value)
    return study
