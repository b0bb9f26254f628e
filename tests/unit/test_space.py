"""Search-space validation: every bad space is refused with a message naming the fix."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

import tunehub
from tunehub.schema import StudyCreate


def create(space: dict[str, Any], **extra: Any) -> StudyCreate:
    return StudyCreate.model_validate(
        {"name": "s", "space": space, "objectives": [{"name": "loss"}], **extra}
    )


@pytest.mark.parametrize(
    ("space", "field", "words"),
    [
        ({"x": {"type": "float", "low": 2, "high": 1}}, "space.x", "swap"),
        ({"x": {"type": "int", "low": 5, "high": 1}}, "space.x", "swap"),
        ({"x": {"type": "float", "low": 0, "high": 1, "log": True}}, "space.x", "low > 0"),
        ({"x": {"type": "int", "low": 0, "high": 9, "log": True}}, "space.x", "low >= 1"),
        ({"x": {"type": "float", "low": math.nan, "high": 1}}, "space.x", "finite"),
        ({"x": {"type": "float", "low": 0, "high": math.inf}}, "space.x", "finite"),
        ({"x": {"type": "categorical", "choices": []}}, "space.x", "at least one"),
        ({"x": {"type": "categorical", "choices": ["a", "a"]}}, "space.x", "twice"),
        (
            {"x": {"type": "float", "low": 0, "high": 1, "condition": {"m": ["a"]}}},
            "space",
            "unknown parameter 'm'",
        ),
        (
            {
                "m": {"type": "categorical", "choices": ["a", "b"]},
                "x": {"type": "float", "low": 0, "high": 1, "condition": {"m": ["c"]}},
            },
            "space",
            "not a possible value",
        ),
        (
            {
                "a": {"type": "categorical", "choices": [1], "condition": {"b": [1]}},
                "b": {"type": "categorical", "choices": [1], "condition": {"a": [1]}},
            },
            "space",
            "cycle",
        ),
        ({}, "space", "at least one parameter"),
        ({"x": {"type": "bogus", "low": 0}}, "space.x", "float"),
        ({"x": {"type": "float", "low": 0, "high": 1, "step": 2}}, "space.x", "Extra"),
    ],
)
def test_bad_space_names_field(space: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        create(space)
    error = info.value.errors()[0]
    loc = ".".join(str(p) for p in error["loc"])
    assert loc.startswith(field)
    assert words in str(error["msg"])


def test_objectives_must_be_unique_and_present() -> None:
    space = {"x": {"type": "float", "low": 0, "high": 1}}
    with pytest.raises(ValidationError, match="listed twice"):
        StudyCreate.model_validate(
            {"name": "s", "space": space, "objectives": [{"name": "a"}, {"name": "a"}]}
        )
    with pytest.raises(ValidationError, match="at least 1"):
        StudyCreate.model_validate({"name": "s", "space": space, "objectives": []})


def test_bad_study_name() -> None:
    with pytest.raises(ValidationError, match="not allowed"):
        StudyCreate.model_validate(
            {"name": " spaces ", "space": {"x": tunehub.Float(0, 1)}, "objectives": [{"name": "l"}]}
        )


def test_sdk_types_mirror_the_wire() -> None:
    space = {
        "lr": tunehub.Float(1e-5, 1e-1, log=True),
        "layers": tunehub.Int(1, 8),
        "opt": tunehub.Categorical(["adam", "sgd"]),
        "momentum": tunehub.Float(0.0, 0.99, condition={"opt": ["sgd"]}),
    }
    body = create({k: v.model_dump() for k, v in space.items()})
    assert body.space["lr"].model_dump() == {
        "type": "float",
        "low": 1e-5,
        "high": 1e-1,
        "log": True,
        "condition": None,
    }
    assert body.space["momentum"].condition == {"opt": ["sgd"]}
    with pytest.raises(ValidationError, match="swap"):
        tunehub.Float(1, 0)


def test_diamond_conditions_are_not_a_cycle() -> None:
    create(
        {
            "a": {"type": "categorical", "choices": ["x", "y"]},
            "b": {"type": "categorical", "choices": [1, 2], "condition": {"a": ["x"]}},
            "c": {"type": "categorical", "choices": [1, 2], "condition": {"a": ["x"]}},
            "d": {"type": "int", "low": 1, "high": 3, "condition": {"b": [1], "c": [2]}},
        }
    )
