"""The unit-cube encoding: round trips, bins, conditions."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

import tunehub
from tunehub.server.space.encoding import SpaceEncoder
from tunehub.server.space.params import ParamError, check_params

SPACE = {
    "lr": tunehub.Float(1e-5, 1e-1, log=True),
    "drop": tunehub.Float(0.0, 0.5),
    "layers": tunehub.Int(1, 8),
    "width": tunehub.Int(16, 1024, log=True),
    "model": tunehub.Categorical(["svm", "tree", 3, None]),
    "gamma": tunehub.Float(1e-4, 1.0, log=True, condition={"model": ["svm"]}),
    "depth": tunehub.Int(1, 20, condition={"model": ["tree"]}),
}


def test_decode_stays_in_bounds_and_encode_round_trips() -> None:
    enc = SpaceEncoder(SPACE)
    rng = np.random.default_rng(0)
    for u in rng.random((500, enc.dims)):
        params = enc.decode(u)
        assert check_params(SPACE, params) == params
        again = enc.decode(np.nan_to_num(enc.encode(params), nan=0.5))
        for name, value in params.items():
            if isinstance(value, float):
                assert math.isclose(again[name], value, rel_tol=1e-9)  # type: ignore[arg-type]
            else:
                assert again[name] == value


def test_corners_hit_bounds() -> None:
    enc = SpaceEncoder({"x": tunehub.Float(1e-3, 10, log=True), "n": tunehub.Int(2, 5)})
    assert enc.decode([0.0, 0.0]) == {"x": pytest.approx(1e-3), "n": 2}
    assert enc.decode([1.0, 1.0]) == {"x": pytest.approx(10), "n": 5}


@pytest.mark.parametrize("log", [False, True])
def test_integers_are_equally_likely(log: bool) -> None:
    enc = SpaceEncoder({"n": tunehub.Int(1, 4, log=log)})
    counts = Counter(enc.decode([u])["n"] for u in np.linspace(0, 1, 40_001))
    assert set(counts) == {1, 2, 3, 4}
    if not log:
        assert max(counts.values()) - min(counts.values()) <= 2


def test_inactive_parameters_are_dropped_and_encoded_nan() -> None:
    enc = SpaceEncoder(SPACE)
    names = list(enc.names)
    u = np.full(enc.dims, 0.5)
    u[names.index("model")] = 0.3  # "tree"
    params = enc.decode(u)
    assert params["model"] == "tree" and "depth" in params and "gamma" not in params
    encoded = enc.encode(params)
    assert math.isnan(encoded[names.index("gamma")])
    assert not math.isnan(encoded[names.index("depth")])


def test_encoding_many_matches_one_at_a_time_and_names_a_bad_choice() -> None:
    enc = SpaceEncoder(SPACE)
    rng = np.random.default_rng(1)
    configs = [enc.decode(u) for u in rng.random((200, enc.dims))]
    many = enc.encode_many(configs)
    assert many.shape == (200, enc.dims)
    for row, params in zip(many, configs):
        for j, name in enumerate(enc.names):
            alone = enc.encode_many([{name: params[name]}])[0, j] if name in params else math.nan
            assert (math.isnan(row[j]) and math.isnan(alone)) or row[j] == pytest.approx(alone)
    assert np.nanmin(many) >= 0.0 and np.nanmax(many) <= 1.0
    # 3 is a choice; 3.0 and True are not, whatever Python's == says.
    three = enc.encode({"model": 3})[enc.names.index("model")]
    assert three == pytest.approx(2.5 / 4)
    for wrong in (3.0, True, "SVM"):
        with pytest.raises(ValueError, match="model"):
            enc.encode({"model": wrong})


def test_parents_come_first() -> None:
    space = {
        "child": tunehub.Int(1, 2, condition={"parent": ["a"]}),
        "parent": tunehub.Categorical(["a", "b"]),
    }
    assert SpaceEncoder(space).names == ("parent", "child")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lr": 1.0}, "lr"),
        ({"bogus": 1}, "bogus"),
        ({"layers": 2.5}, "layers"),
        ({"model": "knn"}, "model"),
        ({"drop": "high"}, "drop"),
    ],
)
def test_check_params_names_the_field(params: dict[str, object], field: str) -> None:
    base = {"lr": 1e-3, "drop": 0.1, "layers": 2, "width": 64, "model": "svm", "gamma": 0.1}
    with pytest.raises(ParamError) as info:
        check_params(SPACE, {**base, **params})  # type: ignore[dict-item]
    assert info.value.field == field


def test_check_params_refuses_inactive_and_missing() -> None:
    base = {"lr": 1e-3, "drop": 0.1, "layers": 2, "width": 64, "model": "tree"}
    with pytest.raises(ParamError, match="missing"):
        check_params(SPACE, base)
    with pytest.raises(ParamError, match="inactive"):
        check_params(SPACE, {**base, "depth": 3, "gamma": 0.1})
    assert check_params(SPACE, {**base, "depth": 3.0})["depth"] == 3
