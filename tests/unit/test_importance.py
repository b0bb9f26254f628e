"""Parameter importance by fANOVA: rankings, conditional spaces, edge cases."""

from __future__ import annotations

import numpy as np

import tunehub
from tunehub.server.analysis.importance import normalized, parameter_importance
from tunehub.server.space.encoding import ParamSpecs, SpaceEncoder
from tunehub.space import ParamValue

XYZ = {"x": tunehub.Float(0.0, 1.0), "y": tunehub.Float(0.0, 1.0), "z": tunehub.Float(0.0, 1.0)}


def _sample(space: ParamSpecs, n: int, seed: int) -> list[dict[str, ParamValue]]:
    encoder = SpaceEncoder(space)
    rng = np.random.default_rng(seed)
    return [encoder.decode(u) for u in rng.random((n, encoder.dims))]


def _linear() -> tuple[list[dict[str, ParamValue]], list[float]]:
    params = _sample(XYZ, 300, 0)
    values = [10 * float(p["x"]) + 0.1 * float(p["y"]) for p in params]  # type: ignore[arg-type]
    return params, values


def test_dominant_parameter_explains_the_variance() -> None:
    params, values = _linear()
    imp = parameter_importance(XYZ, params, values)
    assert list(imp) == ["x", "y", "z"]
    assert imp["x"] > 0.8
    assert imp["z"] < 0.05
    assert all(0.0 <= v <= 1.0 for v in imp.values())
    assert sum(imp.values()) <= 1.0 + 1e-9


def test_driving_categorical_ranks_first() -> None:
    space = {
        "opt": tunehub.Categorical(["sgd", "adam", "rmsprop"]),
        "lr": tunehub.Float(1e-4, 1e-1, log=True),
        "noise": tunehub.Int(1, 10),
    }
    offset = {"sgd": 0.0, "adam": 5.0, "rmsprop": 2.0}
    params = _sample(space, 300, 1)
    values = [offset[str(p["opt"])] + 0.01 * float(p["noise"]) for p in params]  # type: ignore[arg-type]
    imp = parameter_importance(space, params, values)
    assert max(imp, key=imp.__getitem__) == "opt"
    assert imp["opt"] > 0.8
    assert sum(imp.values()) <= 1.0 + 1e-9


def test_conditional_space_ranks_the_driver_first() -> None:
    space = {
        "model": tunehub.Categorical(["svm", "tree"]),
        "gamma": tunehub.Float(1e-4, 1.0, log=True, condition={"model": ["svm"]}),
        "depth": tunehub.Int(1, 20, condition={"model": ["tree"]}),
        "other": tunehub.Float(0.0, 1.0),
    }
    params = _sample(space, 400, 2)
    assert any("gamma" not in p for p in params) and any("depth" not in p for p in params)

    def objective(p: dict[str, ParamValue]) -> float:
        if p["model"] == "svm":
            return 10.0 * float(p["gamma"])  # type: ignore[arg-type]
        return 1.0 + 0.01 * float(p["depth"])  # type: ignore[arg-type]

    imp = parameter_importance(space, params, [objective(p) for p in params])
    assert set(imp) == set(space)
    assert max(imp, key=imp.__getitem__) == "gamma"
    assert imp["other"] < 0.05
    assert all(0.0 <= v <= 1.0 for v in imp.values())
    assert sum(imp.values()) <= 1.0 + 1e-9


def test_same_seed_same_answer() -> None:
    params, values = _linear()
    assert parameter_importance(XYZ, params, values, seed=3) == parameter_importance(
        XYZ, params, values, seed=3
    )


def test_too_few_or_constant_trials_give_zeros() -> None:
    zeros = {"x": 0.0, "y": 0.0, "z": 0.0}
    params, _ = _linear()
    assert parameter_importance(XYZ, [], []) == zeros
    assert parameter_importance(XYZ, params[:1], [1.0]) == zeros
    assert parameter_importance(XYZ, params, [2.5] * len(params)) == zeros
    assert parameter_importance(XYZ, params[:2], [1.0, float("nan")]) == zeros


def test_normalized_sums_to_one() -> None:
    params, values = _linear()
    shares = normalized(parameter_importance(XYZ, params, values))
    assert abs(sum(shares.values()) - 1.0) < 1e-9
    assert normalized({"a": 0.0, "b": 0.0}) == {"a": 0.0, "b": 0.0}
