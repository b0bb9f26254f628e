"""ASHA on a linear classifier trained epoch by epoch: budgets, promotions, resuming.

Start a server first (`make serve`), then: `python examples/multifidelity.py`.

Each trial trains an ``SGDClassifier`` on scikit-learn's digits for ``trial.budget``
epochs. A promoted trial continues its parent's model (kept in memory here; a
``tunehub worker`` hands it the parent's checkpoint folder instead), so only the
epochs between the two budgets are trained again.
"""

from __future__ import annotations

import argparse
import copy
import threading
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split

import tunehub


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=None, help="server URL (default TUNEHUB_URL)")
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--policy", default="asha", choices=["asha", "hyperband"])
    args = parser.parse_args()

    features, labels = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        features / 16.0, labels, test_size=0.25, random_state=0, stratify=labels
    )
    classes = np.unique(labels)
    models: dict[int, Any] = {}  # trial id -> its model after its last epoch
    lock = threading.Lock()

    client = tunehub.Client(args.url)
    study = client.create_study(
        name=f"multifidelity-{args.policy}",
        space={
            "alpha": tunehub.Float(1e-6, 1e-1, log=True),
            "eta0": tunehub.Float(1e-4, 1.0, log=True),
            "loss": tunehub.Categorical(["hinge", "log_loss", "modified_huber"]),
        },
        objectives="val_error",
        policy=args.policy,
        fidelity={"name": "epochs", "min": 1, "max": 27, "eta": 3},
        seed=0,
    )

    def objective(trial: tunehub.Trial) -> float:
        assert trial.budget is not None
        parent = trial.parent
        with lock:
            resumed = parent is not None and parent.id in models
            model = copy.deepcopy(models[parent.id]) if resumed and parent else None
        start = int(parent.budget or 0) if resumed and parent is not None else 0
        if model is None:
            model = SGDClassifier(
                alpha=float(trial.params["alpha"]),  # type: ignore[arg-type]
                eta0=float(trial.params["eta0"]),  # type: ignore[arg-type]
                loss=str(trial.params["loss"]),
                learning_rate="adaptive",
                random_state=trial.number,
            )
        error = 1.0
        for epoch in range(start + 1, int(trial.budget) + 1):
            model.partial_fit(x_train, y_train, classes=classes)
            error = 1.0 - float(model.score(x_val, y_val))
            if trial.report(epoch, error):
                raise tunehub.TrialPruned()
        with lock:
            models[trial.id] = model
        return error

    study.optimize(objective, n_trials=args.trials, n_workers=args.workers)
    trials = study.trials()
    promoted = sum(1 for t in trials if t.parent_id is not None)
    epochs = sum((t.budget or 0) - _parent_budget(trials, t) for t in trials)
    best = study.best_trial
    assert best is not None and best.values is not None
    print(
        f"{len(trials)} trials, {promoted} promoted, {epochs:.0f} epochs trained; best val "
        f"error {best.values['val_error']:.4f} at {best.budget:.0f} epochs with {best.params}"
    )
    client.close()


def _parent_budget(trials: list[tunehub.TrialOut], trial: tunehub.TrialOut) -> float:
    parent = next((t for t in trials if t.id == trial.parent_id), None)
    return (parent.budget or 0) if parent is not None else 0


if __name__ == "__main__":
    main()
