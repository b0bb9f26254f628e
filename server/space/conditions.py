"""Which parameters of a configuration are active, given their conditions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunehub.space import ParamValue


def ordered_names(space: Mapping[str, Any]) -> tuple[str, ...]:
    """Parameter names with every parent before its children, otherwise in declared order."""
    ordered: list[str] = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name in placed:
            return
        for parent in space[name].condition or {}:
            place(parent)
        placed.add(name)
        ordered.append(name)

    for name in space:
        place(name)
    return tuple(ordered)


def active_names(
    space: Mapping[str, Any], order: tuple[str, ...], values: Mapping[str, ParamValue]
) -> set[str]:
    """Names whose conditions hold, reading ``values`` in parent-first ``order``."""
    active: set[str] = set()
    for name in order:
        condition = space[name].condition or {}
        if all(
            parent in active and matches(values.get(parent), allowed)
            for parent, allowed in condition.items()
        ):
            active.add(name)
    return active


def matches(value: ParamValue, allowed: list[ParamValue]) -> bool:
    """Whether ``value`` is one of ``allowed`` (an int equals the same float)."""
    return any(type(value) is type(a) and value == a for a in allowed) or (
        # An int parent's condition may list 3 where the value is the int 3.
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and any(
            isinstance(a, int | float) and not isinstance(a, bool) and a == value for a in allowed
        )
    )
