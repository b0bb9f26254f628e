"""CASH: choose the classifier and tune it, on datasets that ship with scikit-learn.

One conditional space: ``model`` picks an SVM, a random forest, k-nearest
neighbours or logistic regression, and each model's parameters are active only
under it. A trial's value is the 3-fold cross-validated error on the train split
(75%, stratified); the configuration with the lowest one is then fitted on the
whole train split and scored on the test split.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

SPACE: dict[str, Any] = {
    "model": {"type": "categorical", "choices": ["svm", "forest", "knn", "logistic"]},
    "svm_c": {
        "type": "float",
        "low": 1e-2,
        "high": 1e3,
        "log": True,
        "condition": {"model": ["svm"]},
    },
    "svm_gamma": {
        "type": "float",
        "low": 1e-5,
        "high": 1.0,
        "log": True,
        "condition": {"model": ["svm"]},
    },
    "forest_trees": {
        "type": "int",
        "low": 10,
        "high": 200,
        "log": True,
        "condition": {"model": ["forest"]},
    },
    "forest_features": {
        "type": "float",
        "low": 0.05,
        "high": 1.0,
        "condition": {"model": ["forest"]},
    },
    "forest_leaf": {
        "type": "int",
        "low": 1,
        "high": 20,
        "log": True,
        "condition": {"model": ["forest"]},
    },
    "knn_k": {"type": "int", "low": 1, "high": 50, "log": True, "condition": {"model": ["knn"]}},
    "knn_weights": {
        "type": "categorical",
        "choices": ["uniform", "distance"],
        "condition": {"model": ["knn"]},
    },
    "logistic_c": {
        "type": "float",
        "low": 1e-4,
        "high": 1e3,
        "log": True,
        "condition": {"model": ["logistic"]},
    },
}
DATASETS = ("digits", "breast_cancer")
TRIALS = 40
"""Trials per run: every tuner gets the same number of configurations."""


@dataclass(frozen=True)
class Split:
    x_train: npt.NDArray[np.float64]
    y_train: npt.NDArray[np.int64]
    x_test: npt.NDArray[np.float64]
    y_test: npt.NDArray[np.int64]


@cache
def split(dataset: str) -> Split:
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    x, y = getattr(datasets, f"load_{dataset}")(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, stratify=y, random_state=0
    )
    return Split(x_train, y_train, x_test, y_test)


def estimator(params: dict[str, Any]) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    model = params["model"]
    if model == "svm":
        found: Any = SVC(C=params["svm_c"], gamma=params["svm_gamma"])
    elif model == "forest":
        found = RandomForestClassifier(
            n_estimators=int(params["forest_trees"]),
            max_features=float(params["forest_features"]),
            min_samples_leaf=int(params["forest_leaf"]),
            random_state=0,
        )
    elif model == "knn":
        found = KNeighborsClassifier(
            n_neighbors=int(params["knn_k"]), weights=str(params["knn_weights"])
        )
    else:
        found = LogisticRegression(C=params["logistic_c"], max_iter=2_000)
    return make_pipeline(StandardScaler(), found)


def cv_error(dataset: str, params: dict[str, Any]) -> float:
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    data = split(dataset)
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    accuracy = cross_val_score(estimator(params), data.x_train, data.y_train, cv=folds)
    return float(1.0 - accuracy.mean())


def test_error(dataset: str, params: dict[str, Any]) -> float:
    data = split(dataset)
    fitted = estimator(params).fit(data.x_train, data.y_train)
    return float(1.0 - fitted.score(data.x_test, data.y_test))


Searcher = Callable[[str, int, str | None, int], list[tuple[dict[str, Any], float]]]


def _tunehub(policy: str) -> Searcher:
    def search(
        dataset: str, seed: int, url: str | None, trials: int
    ) -> list[tuple[dict[str, Any], float]]:
        import tunehub

        assert url is not None, "Tunehub searchers need the harness's server"
        # A user who knows the budget tells the bandit how far its arms' curves reach.
        options = {"horizon": trials} if policy == "rising-bandit" else {}
        tried: list[tuple[dict[str, Any], float]] = []
        with tunehub.Client(url, timeout=600.0) as client:
            study = client.create_study(
                name=f"cash-{policy}-{dataset}-{seed}-{uuid.uuid4().hex[:8]}",
                space=SPACE,
                objectives="error",
                policy=policy,
                policy_options=options,
                seed=seed,
            )
            for _ in range(trials):
                trial = study.ask()
                params = dict(trial.params)
                error = cv_error(dataset, params)
                trial.tell(error)
                tried.append((params, error))
        return tried

    return search


def random_search(
    dataset: str, seed: int, url: str | None, trials: int
) -> list[tuple[dict[str, Any], float]]:
    from bench.quality.space import sample

    rng = random.Random(f"cash-{dataset}:{seed}")
    tried: list[tuple[dict[str, Any], float]] = []
    for _ in range(trials):
        params = sample(SPACE, rng)
        tried.append((params, cv_error(dataset, params)))
    return tried


SEARCHERS: dict[str, Searcher] = {
    "tunehub-rising-bandit": _tunehub("rising-bandit"),
    "tunehub-gp": _tunehub("gp"),
    "random": random_search,
}
