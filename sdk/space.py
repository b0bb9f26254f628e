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

MAX_PARAMS = 1_000
"""Parameters in one space."""
MAX_CHOICES = 10_000
"""Choices of one categorical, and values one condition may list for a parent."""
MAX_CONDITION_PARENTS = 16
"""Parents one parameter's condition may name."""
MAX_CONDITION_DEPTH = 32
"""Longest chain of conditions (a parameter, its parent, the parent's parent, ...)."""


class _Param(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    condition: Condition | None = None

    @model_validator(mode="after")
    def _check_condition(self) -> _Param:
        if self.condition is not None:
            if not self.condition:
                raise ValueError("condition is empty: give {parent: [values]} or leave it out")
            if len(self.condition) > MAX_CONDITION_PARENTS:
                raise ValueError(
                    f"condition names {len(self.condition)} parents: at most "
                    f"{MAX_CONDITION_PARENTS} are allowed"
                )
            for parent, allowed in self.condition.items():
                if not allowed:
                    raise ValueError(
                        f"condition on {parent!r} allows no value: list at least one value"
                    )
                if len(allowed) > MAX_CHOICES:
                    raise ValueError(
                        f"condition on {parent!r} lists {len(allowed)} values: at most "
                        f"{MAX_CHOICES} are allowed"
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
        if len(self.choices) > MAX_CHOICES:
            raise ValueError(
                f"{len(self.choices)} choices: at most {MAX_CHOICES} are allowed; encode a "
                "larger set as an integer index"
            )
        seen: set[tuple[type, ParamValue]] = set()
        for choice in self.choices:
            if isinstance(choice, float) and not math.isfinite(choice):
                raise ValueError(f"choice {choice} is not a finite number: remove it")
            key = choice_key(choice)
            if key in seen:
                raise ValueError(f"choice {choice!r} appears twice: choices must be unique")
            seen.add(key)
        return self


def choice_key(value: ParamValue) -> tuple[type, ParamValue]:
    """A hashable identity: 1, 1.0 and True are equal in Python but distinct on the wire."""
    return (type(value), value)


ParamSpec = Annotated[FloatParam | IntParam | CategoricalParam, Field(discriminator="type")]

Float = FloatParam
Int = IntParam
Categorical = CategoricalParam


def check_conditions(space: dict[str, Any]) -> None:
    """Check that conditions name existing parents, allow only their values, form no
    cycle and chain at most ``MAX_CONDITION_DEPTH`` deep. Linear in the size of the space.

    Raises ``ValueError`` whose message starts with the offending parameter's name.
    """
    if len(space) > MAX_PARAMS:
        raise ValueError(f"the space has {len(space)} parameters: at most {MAX_PARAMS}")
    keys: dict[str, set[tuple[type, ParamValue]]] = {}
    for name, spec in space.items():
        for parent, allowed in (spec.condition or {}).items():
            if parent == name:
                raise ValueError(f"{name}: condition refers to the parameter itself")
            if parent not in space:
                raise ValueError(
                    f"{name}: condition names unknown parameter {parent!r}; "
                    f"known parameters are {sorted(space)[:20]}"
                )
            parent_spec = space[parent]
            if isinstance(parent_spec, CategoricalParam) and parent not in keys:
                keys[parent] = {choice_key(c) for c in parent_spec.choices}
            for value in allowed:
                if not _admits(parent_spec, keys.get(parent), value):
                    raise ValueError(
                        f"{name}: condition value {value!r} is not a possible value of {parent!r}"
                    )
    _check_chains(space)


def _check_chains(space: dict[str, Any]) -> None:
    """No cycle, no chain deeper than ``MAX_CONDITION_DEPTH``: an iterative depth-first walk."""
    depth: dict[str, int] = {}  # finished parameters: the longest chain of parents above
    for root in space:
        if root in depth:
            continue
        path: list[str] = [root]
        on_path = {root}
        pending: list[list[str]] = [list(space[root].condition or {})]
        while path:
            if pending[-1]:
                parent = pending[-1].pop()
                if parent in on_path:
                    cycle = " -> ".join([*path[path.index(parent) :], parent])
                    raise ValueError(f"{parent}: conditions form a cycle ({cycle})")
                if parent not in depth:
                    path.append(parent)
                    on_path.add(parent)
                    pending.append(list(space[parent].condition or {}))
                continue
            name = path.pop()
            on_path.discard(name)
            pending.pop()
            parents = space[name].condition or {}
            depth[name] = 1 + max((depth[p] for p in parents), default=0)
            if depth[name] > MAX_CONDITION_DEPTH:
                raise ValueError(
                    f"{name}: conditions chain {depth[name]} parameters deep: at most "
                    f"{MAX_CONDITION_DEPTH} are allowed"
                )


def _admits(spec: Any, choice_keys: set[tuple[type, ParamValue]] | None, value: ParamValue) -> bool:
    if choice_keys is not None:
        return choice_key(value) in choice_keys
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return bool(spec.low <= value <= spec.high)
