"""A real tuning task: an SVC on sklearn's bundled digits, scored by 3-fold CV error.

The data ship with scikit-learn (no download) and one evaluation takes well
under a second, so the task stays cheap while its landscape is a real one:
plateaus, a log-scaled ridge in (C, gamma) and a conditional polynomial kernel.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

SPACE: dict[str, dict[str, Any]] = {
    "C": {"type": "float", "low": 1e-2, "high": 1e3, "log": True},
    "gamma": {"type": "float", "low": 1e-4, "high": 10.0, "log": True},
    "kernel": {"type": "categorical", "choices": ["rbf", "poly"]},
    "degree": {"type": "int", "low": 2, "high": 5, "condition": {"kernel": ["poly"]}},
    "coef0": {"type": "float", "low": 0.0, "high": 1.0, "condition": {"kernel": ["poly"]}},
}


@functools.cache
def _digits() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return x / 16.0, y


def svc_digits_error(params: Mapping[str, Any]) -> dict[str, float]:
    """Misclassification rate averaged over 3 fixed stratified folds."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.svm import SVC

    x, y = _digits()
    model = SVC(
        C=params["C"],
        gamma=params["gamma"],
        kernel=params["kernel"],
        degree=params.get("degree", 3),
        coef0=params.get("coef0", 0.0),
    )
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    accuracy = cross_val_score(model, x, y, cv=folds, n_jobs=1)
    return {"error": float(1.0 - accuracy.mean())}
