"""Search-space types: the typed mirror of the wire's ``space`` object.

``Float``, ``Int`` and ``Categorical`` are the same pydantic models the server
validates with, so a bad space fails in the client before any network call,
with the same message the server would give.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

ParamValue = StrictBool | StrictInt | StrictFloat | StrictStr | None
"""A parameter's value: what a categorical choice may be, or a number."""

Condition = dict[str, list[ParamValue]]
"""``{"parent": [allowed values]}``: the parameter is active only when every
parent is active and holds one of its allowed values."""


class _Param(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    condition: Condition | None = None

    @model_validator(mode="after")
    def _check_condition(self) -> _Param:
        if self.condition is not None:
            if not self.condition:
                raise ValueError("condition is empty: give {parent: [values]} or leave it out")
            for parent, allowed in self.condition.items():
                if not allowed:
                    raise ValueError(
                        f"condition on {parent!r} allows no value: list at least one value"
                    )
        return self


MAX_SAFE_INT = 2**53
"""Integers beyond this lose precision as floats (and as JavaScript numbers)."""


def is_finite_number(value: float) -> bool:
    """True for finite floats and for ints a float holds exactly; never raises."""
    if isinstance(value, int):
        return abs(value) <= MAX_SAFE_INT
    return math.isfinite(value)


class _Range(_Param):
    """A numeric parameter in ``[low, high]``, searched on a log scale when ``log``."""

    low: float
    high: float
    log: bool = False

    def __init__(
        self,
        low: float | None = None,
        high: float | None = None,
        *,
        log: bool = False,
        condition: Condition | None = None,
        **data: Any,
    ) -> None:
        data.update(low=low, high=high, log=log, condition=condition)
        super().__init__(**data)

    @model_validator(mode="after")
    def _check_bounds(self) -> _Range:
        for label, value in (("low", self.low), ("high", self.high)):
            if not is_finite_number(value):
                raise ValueError(
                    f"{label} is not a finite number: bounds must be finite "
                    "(integers within +-2**53)"
                )
        if not math.isfinite(float(self.high) - float(self.low)):
            raise ValueError("high - low overflows a float: narrow the range or use log=true")
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is greater than high ({self.high}): swap them")
        if self.log and self.low <= 0:
            least = "low >= 1" if isinstance(self.low, int) else "low > 0"
            raise ValueError(
                f"log=true needs {least} (got low={self.low}): raise low or set log=false"
            )
        return self


class FloatParam(_Range):
    """A real parameter in ``[low, high]``, searched on a log scale when ``log``."""

    type: Literal["float"] = "float"


class IntParam(_Range):
    """An integer parameter in ``[low, high]`` (both included)."""

    type: Literal["int"] = "int"
    low: StrictInt  # type: ignore[assignment]
    high: StrictInt  # type: ignore[assignment]


class CategoricalParam(_Param):
    """One of a list of JSON scalars (strings, numbers, booleans, null)."""

    type: Literal["categorical"] = "categorical"
    choices: list[ParamValue]

    def __init__(
        self,
        choices: list[ParamValue] | None = None,
        *,
        condition: Condition | None = None,
        **data: Any,
    ) -> None:
        data.update(choices=choices, condition=condition)
        super().__init__(**data)

    @model_validator(mode="after")
    def _check_choices(self) -> CategoricalParam:
        if not self.choices:
            raise ValueError("choices is empty: list at least one choice")
        seen: list[ParamValue] = []
        for choice in self.choices:
            if isinstance(choice, float) and not math.isfinite(choice):
                raise ValueError(f"choice {choice} is not a finite number: remove it")
            # 1 == 1.0 == True in Python; on the wire they are distinct, so compare by type too.
            if any(type(choice) is type(s) and choice == s for s in seen):
                raise ValueError(f"choice {choice!r} appears twice: choices must be unique")
            seen.append(choice)
        return self


ParamSpec = Annotated[FloatParam | IntParam | CategoricalParam, Field(discriminator="type")]

Float = FloatParam
Int = IntParam
Categorical = CategoricalParam


def check_conditions(space: dict[str, Any]) -> None:
    """Check that conditions name existing parents, allow only their values, and form no cycle.

    Raises ``ValueError`` whose message starts with the offending parameter's name.
    """
    for name, spec in space.items():
        for parent, allowed in (spec.condition or {}).items():
            if parent == name:
                raise ValueError(f"{name}: condition refers to the parameter itself")
            if parent not in space:
                raise ValueError(
                    f"{name}: condition names unknown parameter {parent!r}; "
                    f"known parameters are {sorted(space)}"
                )
            parent_spec = space[parent]
            for value in allowed:
                if not _admits(parent_spec, value):
                    raise ValueError(
                        f"{name}: condition value {value!r} is not a possible value of {parent!r}"
                    )
    done: set[str] = set()
    for name in space:
        path: list[str] = []
        _visit(space, name, path, done)


def _visit(space: dict[str, Any], name: str, path: list[str], done: set[str]) -> None:
    if name in done:
        return
    if name in path:
        cycle = " -> ".join([*path[path.index(name) :], name])
        raise ValueError(f"{name}: conditions form a cycle ({cycle})")
    path.append(name)
    for parent in space[name].condition or {}:
        _visit(space, parent, path, done)
    path.pop()
    done.add(name)


def _admits(spec: Any, value: ParamValue) -> bool:
    if isinstance(spec, CategoricalParam):
        return any(type(value) is type(c) and value == c for c in spec.choices)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return bool(spec.low <= value <= spec.high)
