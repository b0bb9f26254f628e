"""Properties of search-space validation and the unit-cube encoding, on spaces that
hypothesis makes up: any valid space validates, every point of the cube decodes to
parameters inside the bounds with the conditions honoured, decoding what was
encoded gives it back, and a bad space is refused with a ValidationError that
names its field, never another exception."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tunehub.schema import StudySpec
from tunehub.server.space.encoding import SpaceEncoder
from tunehub.server.space.params import check_params

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-8, max_value=1e6, allow_nan=False, allow_infinity=False)
choice = st.one_of(
    st.integers(-1000, 1000), st.text(min_size=1, max_size=8), st.booleans(), st.none()
)


@st.composite
def float_param(draw: st.DrawFn) -> dict[str, Any]:
    log = draw(st.booleans())
    low = draw(positive if log else finite)
    high = draw(positive if log else finite)
    assume(high > low and math.isfinite(high - low))
    return {"type": "float", "low": low, "high": high, "log": log}


@st.composite
def int_param(draw: st.DrawFn) -> dict[str, Any]:
    log = draw(st.booleans())
    low = draw(st.integers(1 if log else -(10**6), 10**6))
    high = draw(st.integers(low, 10**6))
    return {"type": "int", "low": low, "high": high, "log": log}


@st.composite
def categorical_param(draw: st.DrawFn) -> dict[str, Any]:
    choices = draw(st.lists(choice, min_size=1, max_size=5, unique_by=lambda c: (type(c), c)))
    return {"type": "categorical", "choices": choices}


@st.composite
def spaces(draw: st.DrawFn) -> dict[str, Any]:
    """Up to 6 parameters; some active only under a value of an earlier categorical."""
    space: dict[str, Any] = {}
    for i in range(draw(st.integers(1, 6))):
        param = draw(st.one_of(float_param(), int_param(), categorical_param()))
        parents = [k for k, v in space.items() if v["type"] == "categorical"]
        if parents and draw(st.booleans()):
            parent = draw(st.sampled_from(parents))
            allowed = draw(
                st.lists(st.sampled_from(space[parent]["choices"]), min_size=1, unique=True)
            )
            param["condition"] = {parent: allowed}
        space[f"p{i}"] = param
    return space


def validated(space: dict[str, Any]) -> StudySpec:
    return StudySpec.model_validate({"space": space, "objectives": [{"name": "loss"}]})


@SETTINGS
@given(space=spaces(), data=st.data())
def test_every_point_of_the_cube_decodes_inside_the_space_and_round_trips(
    space: dict[str, Any], data: st.DataObject
) -> None:
    spec = validated(space)
    encoder = SpaceEncoder(spec.space)
    unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
    point = data.draw(st.lists(unit, min_size=encoder.dims, max_size=encoder.dims))
    params = encoder.decode(np.array(point))
    assert check_params(spec.space, dict(params)) == params  # bounds and conditions hold
    for name, param in spec.space.items():
        if name in params and param.type != "categorical":
            assert param.low <= params[name] <= param.high  # type: ignore[operator]
    again = encoder.decode(np.nan_to_num(encoder.encode(params), nan=0.5))
    assert again.keys() == params.keys()
    for name, value in params.items():
        if isinstance(value, float):
            assert math.isclose(again[name], value, rel_tol=1e-9, abs_tol=1e-9)  # type: ignore[arg-type]
        else:
            assert again[name] == value and type(again[name]) is type(value)


@SETTINGS
@given(space=spaces(), data=st.data())
def test_swapped_bounds_and_dangling_conditions_are_refused_by_field(
    space: dict[str, Any], data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(space)))
    broken = {k: dict(v) for k, v in space.items()}
    param = broken[name]
    if param["type"] != "categorical" and param["low"] != param["high"]:
        param["low"], param["high"] = param["high"], param["low"]
        expected = "swap them"
    else:
        param["condition"] = {"missing": [1]}
        expected = "missing"
    try:
        validated(broken)
    except ValidationError as error:
        assert expected in str(error)
        assert any(name in map(str, e["loc"]) or "space" in e["loc"] for e in error.errors())
    else:
        raise AssertionError(f"{broken[name]} was accepted")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@SETTINGS
@given(space=st.dictionaries(st.text(max_size=8), json_values, max_size=4))
def test_any_json_for_a_space_is_a_validation_error_or_a_valid_space(space: dict[str, Any]) -> None:
    try:
        spec = validated(space)
    except ValidationError:
        return
    SpaceEncoder(spec.space).decode(np.full(SpaceEncoder(spec.space).dims, 0.5))
