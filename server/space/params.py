"""Checking a user-given configuration (enqueue) against the study's space."""

from __future__ import annotations

from collections.abc import Mapping

from tunehub.server.space.conditions import active_names, ordered_names
from tunehub.space import CategoricalParam, FloatParam, IntParam, ParamValue, is_finite_number


class ParamError(ValueError):
    """A configuration does not fit the space; ``field`` names the offending parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_params(
    space: Mapping[str, FloatParam | IntParam | CategoricalParam],
    params: Mapping[str, ParamValue],
) -> dict[str, ParamValue]:
    """Return ``params`` in canonical form (ints as ints, floats as floats).

    Raises ``ParamError`` for an unknown, missing, inactive or out-of-range parameter.
    """
    for name in params:
        if name not in space:
            raise ParamError(name, f"unknown parameter {name!r}: the space has {sorted(space)}")
    order = ordered_names(space)
    active = active_names(space, order, params)
    out: dict[str, ParamValue] = {}
    for name in order:
        if name not in active:
            if name in params:
                raise ParamError(
                    name,
                    f"parameter {name!r} is inactive under its condition "
                    f"{space[name].condition}: leave it out",
                )
            continue
        if name not in params:
            raise ParamError(name, f"parameter {name!r} is missing: give a value for it")
        out[name] = _check_one(name, space[name], params[name])
    return out


def _check_one(
    name: str, spec: FloatParam | IntParam | CategoricalParam, value: ParamValue
) -> ParamValue:
    if isinstance(spec, CategoricalParam):
        for choice in spec.choices:
            if type(choice) is type(value) and choice == value:
                return choice
        raise ParamError(name, f"{name}={value!r} is not one of the choices {spec.choices}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParamError(name, f"{name}={value!r} is not a number")
    if not is_finite_number(value):
        raise ParamError(name, f"{name} is not a finite number (integers within +-2**53)")
    if isinstance(spec, IntParam):
        if value != int(value):
            raise ParamError(name, f"{name}={value} is not an integer")
        value = int(value)
    else:
        value = float(value)
    if not spec.low <= value <= spec.high:
        raise ParamError(
            name, f"{name}={value} is outside [{spec.low}, {spec.high}]: pick a value inside"
        )
    return value
