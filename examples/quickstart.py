"""Tune an SVM on scikit-learn's digits with the SDK's ask/tell loop.

Start a server first (`make run`), then: `python examples/quickstart.py`.
"""

from __future__ import annotations

import argparse

from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.svm import SVC

import tunehub


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=None, help="server URL (default TUNEHUB_URL)")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    client = tunehub.Client(args.url)
    study = client.create_study(
        name="quickstart-svm",
        space={
            "C": tunehub.Float(1e-3, 1e3, log=True),
            "kernel": tunehub.Categorical(["rbf", "linear"]),
            "gamma": tunehub.Float(1e-5, 1e-1, log=True, condition={"kernel": ["rbf"]}),
        },
        objectives={"accuracy": "maximize"},
        policy="sobol",
        seed=0,
    )

    def objective(trial: tunehub.Trial) -> float:
        params = trial.params
        # gamma is only active for the rbf kernel; the linear kernel ignores it.
        model = SVC(C=params["C"], kernel=params["kernel"], gamma=params.get("gamma", "scale"))
        return float(cross_val_score(model, X, y, cv=3).mean())

    study.optimize(objective, n_trials=args.trials, n_workers=args.workers)
    best = study.best_trial
    assert best is not None and best.values is not None
    print(f"best accuracy {best.values['accuracy']:.4f} with {best.params} (trial {best.number})")
    client.close()


if __name__ == "__main__":
    main()
