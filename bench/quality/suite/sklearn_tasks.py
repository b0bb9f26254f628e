"""Real tuning tasks in the style of Bayesmark: scikit-learn models x bundled or generated data.

Every dataset ships with scikit-learn or is generated from a fixed seed, so
nothing is downloaded. A task is scored by 3-fold cross-validation on fixed
folds, and models with randomness have a fixed ``random_state``: one
configuration always scores the same, and what an optimizer meets is the
model's own landscape (plateaus, log-scaled ridges, conditional parameters).
Classification is scored by error (1 - accuracy), regression by 1 - R^2.
Scores are capped at ``WORST``. The optimum is unknown: regret is measured
against the best value any run reached.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.quality.problem import Problem

BUDGET = 50
WORST = 2.0
"""The score of a failed fit, and the cap on 1 - R^2."""
SOLVER_STEPS = 100_000
"""libsvm's iteration cap on the polynomial-kernel task."""

Data = tuple[npt.NDArray[np.float64], npt.NDArray[Any]]


@functools.cache
def dataset(name: str) -> Data:
    """Features and target; generated sets come from a fixed seed."""
    from sklearn import datasets

    loaders: dict[str, Callable[[], Data]] = {
        "iris": lambda: datasets.load_iris(return_X_y=True),
        "wine": lambda: datasets.load_wine(return_X_y=True),
        "breast": lambda: datasets.load_breast_cancer(return_X_y=True),
        "digits": lambda: datasets.load_digits(return_X_y=True),
        "diabetes": lambda: datasets.load_diabetes(return_X_y=True),
        "classes": lambda: datasets.make_classification(
            n_samples=400,
            n_features=20,
            n_informative=6,
            n_redundant=4,
            flip_y=0.05,
            random_state=0,
        ),
        "friedman": lambda: datasets.make_friedman1(n_samples=300, noise=1.0, random_state=0),
    }
    x, y = loaders[name]()
    return np.asarray(x, dtype=float), np.asarray(y)


REGRESSION = {"diabetes", "friedman"}


def _float(low: float, high: float, log: bool = False, **extra: Any) -> dict[str, Any]:
    return {"type": "float", "low": low, "high": high, "log": log, **extra}


def _int(low: int, high: int, log: bool = False, **extra: Any) -> dict[str, Any]:
    return {"type": "int", "low": low, "high": high, "log": log, **extra}


def _cat(*choices: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "categorical", "choices": list(choices), **extra}


def _scaled(model: Any) -> Any:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), model)


def _svm(p: dict[str, Any], regression: bool) -> Any:
    from sklearn.svm import SVC, SVR

    kwargs = {"C": p["C"], "gamma": p["gamma"], "tol": p["tol"]}
    if regression:
        return _scaled(SVR(epsilon=p["epsilon"], **kwargs))
    return _scaled(SVC(random_state=0, **kwargs))  # unused without probability=True


def _svm_poly(p: dict[str, Any], regression: bool) -> Any:
    from sklearn.svm import SVR

    kernel = p["kernel"]
    extra = {"degree": p["degree"], "coef0": p["coef0"]} if kernel == "poly" else {}
    # A polynomial kernel with a large C can take libsvm minutes to converge: the solver
    # stops at SOLVER_STEPS, as a user's time limit would, and the model is scored as it is.
    model = SVR(
        C=p["C"],
        gamma=p["gamma"],
        epsilon=p["epsilon"],
        kernel=kernel,
        max_iter=SOLVER_STEPS,
        **extra,
    )
    return _scaled(model)


def _knn(p: dict[str, Any], regression: bool) -> Any:
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    cls = KNeighborsRegressor if regression else KNeighborsClassifier
    return _scaled(cls(n_neighbors=p["n_neighbors"], p=p["p"], weights=p["weights"]))


def _tree_kwargs(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "max_depth": p["max_depth"],
        "max_features": p["max_features"],
        "min_samples_split": p["min_samples_split"],
        "min_samples_leaf": p["min_samples_leaf"],
        "min_weight_fraction_leaf": p["min_weight_fraction_leaf"],
        "min_impurity_decrease": p["min_impurity_decrease"],
        "random_state": 0,
    }


def _tree(p: dict[str, Any], regression: bool) -> Any:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    cls = DecisionTreeRegressor if regression else DecisionTreeClassifier
    return cls(**_tree_kwargs(p))


def _forest(p: dict[str, Any], regression: bool) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestRegressor if regression else RandomForestClassifier
    return cls(n_estimators=10, n_jobs=1, **_tree_kwargs(p))


def _ada(p: dict[str, Any], regression: bool) -> Any:
    from sklearn.ensemble import AdaBoostClassifier

    return AdaBoostClassifier(
        n_estimators=p["n_estimators"], learning_rate=p["learning_rate"], random_state=0
    )


def _boosting(p: dict[str, Any], regression: bool) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

    cls = GradientBoostingRegressor if regression else GradientBoostingClassifier
    return cls(
        n_estimators=p["n_estimators"],
        learning_rate=p["learning_rate"],
        max_depth=p["max_depth"],
        subsample=p["subsample"],
        min_samples_leaf=p["min_samples_leaf"],
        max_features=p["max_features"],
        random_state=0,
    )


def _mlp(p: dict[str, Any], regression: bool, **solver: Any) -> Any:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    cls = MLPRegressor if regression else MLPClassifier
    model = cls(
        hidden_layer_sizes=(p["hidden"],),
        alpha=p["alpha"],
        batch_size=p["batch_size"],
        learning_rate_init=p["learning_rate_init"],
        tol=p["tol"],
        max_iter=60,
        random_state=0,
        **solver,
    )
    return _scaled(model)


def _mlp_adam(p: dict[str, Any], regression: bool) -> Any:
    return _mlp(p, regression, beta_1=p["beta_1"], beta_2=p["beta_2"], epsilon=p["epsilon"])


def _mlp_sgd(p: dict[str, Any], regression: bool) -> Any:
    return _mlp(
        p,
        regression,
        solver="sgd",
        learning_rate=p["learning_rate"],
        power_t=p.get("power_t", 0.5),
        momentum=p["momentum"],
        nesterovs_momentum=p["nesterov"] == "yes",
    )


def _logistic(p: dict[str, Any], regression: bool) -> Any:
    from sklearn.linear_model import LogisticRegression

    penalty = p["penalty"]
    ratio = {"l2": 0.0, "l1": 1.0, "elasticnet": p.get("l1_ratio", 0.5)}[penalty]
    return _scaled(
        LogisticRegression(
            C=p["C"], l1_ratio=ratio, solver="saga", tol=p["tol"], max_iter=100, random_state=0
        )
    )


def _elastic_net(p: dict[str, Any], regression: bool) -> Any:
    from sklearn.linear_model import ElasticNet

    return _scaled(
        ElasticNet(
            alpha=p["alpha"],
            l1_ratio=p["l1_ratio"],
            fit_intercept=p["fit_intercept"] == "yes",
            tol=p["tol"],
            max_iter=500,
            random_state=0,  # unused by the cyclic coordinate descent
        )
    )


_SVM = {
    "C": _float(1e-2, 1e3, True),
    "gamma": _float(1e-5, 10.0, True),
    "tol": _float(1e-5, 1e-1, True),
}
_KNN = {"n_neighbors": _int(1, 25), "p": _int(1, 4), "weights": _cat("uniform", "distance")}
_TREE = {
    "max_depth": _int(1, 15),
    "max_features": _float(0.01, 1.0, True),
    "min_samples_split": _float(0.01, 0.99, True),
    "min_samples_leaf": _float(0.01, 0.49, True),
    "min_weight_fraction_leaf": _float(0.01, 0.49, True),
    "min_impurity_decrease": _float(0.0, 0.5),
}
_BOOSTING = {
    "n_estimators": _int(10, 100, True),
    "learning_rate": _float(1e-3, 1.0, True),
    "max_depth": _int(1, 6),
    "subsample": _float(0.3, 1.0),
    "min_samples_leaf": _int(1, 30, True),
    "max_features": _float(0.1, 1.0),
}
_MLP = {
    "hidden": _int(8, 128, True),
    "alpha": _float(1e-5, 10.0, True),
    "batch_size": _int(8, 128, True),
    "learning_rate_init": _float(1e-5, 1e-1, True),
    "tol": _float(1e-5, 1e-1, True),
}
_ADAM = {
    **_MLP,
    "beta_1": _float(0.5, 0.99),
    "beta_2": _float(0.9, 0.9999),
    "epsilon": _float(1e-9, 1e-6, True),
}
_SGD = {
    **_MLP,
    "learning_rate": _cat("constant", "invscaling", "adaptive"),
    "power_t": _float(0.1, 0.9, condition={"learning_rate": ["invscaling"]}),
    "momentum": _float(0.0, 0.99),
    "nesterov": _cat("yes", "no"),
}
_LOGISTIC = {
    "C": _float(1e-3, 1e3, True),
    "penalty": _cat("l2", "l1", "elasticnet"),
    "l1_ratio": _float(0.0, 1.0, condition={"penalty": ["elasticnet"]}),
    "tol": _float(1e-5, 1e-1, True),
}
_ELASTIC = {
    "alpha": _float(1e-5, 10.0, True),
    "l1_ratio": _float(0.0, 1.0),
    "fit_intercept": _cat("yes", "no"),
    "tol": _float(1e-5, 1e-1, True),
}
_SVR_POLY = {
    "C": _float(1e-2, 1e3, True),
    "gamma": _float(1e-4, 1.0, True),
    "epsilon": _float(1e-3, 1.0, True),
    "kernel": _cat("rbf", "poly", "sigmoid"),
    "degree": _int(2, 5, condition={"kernel": ["poly"]}),
    "coef0": _float(0.0, 1.0, condition={"kernel": ["poly"]}),
}

Builder = Callable[[dict[str, Any], bool], Any]

# (model, dataset, builder, space)
TASKS: tuple[tuple[str, str, Builder, dict[str, dict[str, Any]]], ...] = (
    ("svm", "wine", _svm, _SVM),
    ("svm", "breast", _svm, _SVM),
    ("svm", "classes", _svm, _SVM),
    ("svr", "diabetes", _svm, {**_SVM, "epsilon": _float(1e-3, 1.0, True)}),
    ("svr-kernels", "friedman", _svm_poly, _SVR_POLY),
    ("knn", "breast", _knn, _KNN),
    ("knn", "wine", _knn, _KNN),
    ("knn", "diabetes", _knn, _KNN),
    ("tree", "breast", _tree, _TREE),
    ("tree", "wine", _tree, _TREE),
    ("forest", "breast", _forest, _TREE),
    ("forest", "diabetes", _forest, _TREE),
    (
        "ada",
        "breast",
        _ada,
        {"n_estimators": _int(10, 100, True), "learning_rate": _float(1e-4, 10.0, True)},
    ),
    ("boosting", "diabetes", _boosting, _BOOSTING),
    ("boosting", "classes", _boosting, _BOOSTING),
    ("mlp-adam", "wine", _mlp_adam, _ADAM),
    ("mlp-sgd", "breast", _mlp_sgd, _SGD),
    ("logistic", "breast", _logistic, _LOGISTIC),
    ("logistic", "iris", _logistic, _LOGISTIC),
    ("elasticnet", "diabetes", _elastic_net, _ELASTIC),
    ("elasticnet", "friedman", _elastic_net, _ELASTIC),
)


@dataclass(frozen=True)
class CrossValidated:
    """A problem's ``evaluate``: 3-fold CV of the model the parameters build."""

    model: str
    data: str

    def __call__(self, params: dict[str, Any]) -> dict[str, float]:
        from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

        builder = next(b for m, d, b, _ in TASKS if (m, d) == (self.model, self.data))
        regression = self.data in REGRESSION
        x, y = dataset(self.data)
        folds = (KFold if regression else StratifiedKFold)(n_splits=3, shuffle=True, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings are part of the landscape
            scores = cross_val_score(
                builder(params, regression),
                x,
                y,
                cv=folds,
                scoring="r2" if regression else "accuracy",
                error_score=np.nan,
                n_jobs=1,
            )
        # Failed fits, and models far worse than predicting the mean (1 - R^2 > 2), score
        # WORST: a diverged fit must not set the scale every comparison is made on.
        value = 1.0 - float(np.nanmean(scores)) if np.isfinite(scores).any() else WORST
        return {"error": min(value, WORST)}


def problems() -> list[Problem]:
    out = []
    for model, data, _, space in TASKS:
        kind = "1 - R^2" if data in REGRESSION else "error"
        out.append(
            Problem(
                name=f"sk-{model}-{data}",
                description=f"scikit-learn {model} on {data}, 3-fold CV {kind}",
                space=space,
                objectives=("error",),
                budget=BUDGET,
                evaluate=CrossValidated(model, data),
                family="sklearn",
            )
        )
    return out
