"""Reading Tunehub's space format outside the server: conditions and uniform sampling.

Peers translate the same space dicts the SDK sends, and the random baseline
samples them; this module keeps to the standard library so that a peer run in
another virtualenv can import it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

Space = Mapping[str, Mapping[str, Any]]
Params = dict[str, Any]


def ordered_names(space: Space) -> list[str]:
    """Names with every parent before its children, otherwise in declared order."""
    ordered: list[str] = []

    def place(name: str) -> None:
        if name in ordered:
            return
        for parent in space[name].get("condition") or {}:
            place(parent)
        ordered.append(name)

    for name in space:
        place(name)
    return ordered


def is_active(space: Space, name: str, values: Mapping[str, Any]) -> bool:
    """Whether ``name``'s condition holds: every parent present and holding an allowed value."""
    condition = space[name].get("condition") or {}
    return all(
        parent in values and values[parent] in allowed for parent, allowed in condition.items()
    )


def active_only(space: Space, values: Mapping[str, Any]) -> Params:
    """``values`` without the parameters whose conditions fail (peers may fill them all)."""
    out: Params = {}
    for name in ordered_names(space):
        if name in values and is_active(space, name, out):
            out[name] = values[name]
    return out


def sample(space: Space, rng: random.Random) -> Params:
    """One uniform draw (log-uniform for ``log`` ranges) of the active parameters."""
    out: Params = {}
    for name in ordered_names(space):
        if is_active(space, name, out):
            out[name] = sample_one(space[name], rng)
    return out


def sample_one(spec: Mapping[str, Any], rng: random.Random) -> Any:
    if spec["type"] == "categorical":
        return rng.choice(list(spec["choices"]))
    low, high, log = spec["low"], spec["high"], spec.get("log", False)
    if spec["type"] == "int":
        if not log:
            return rng.randint(low, high)
        # Log-uniform over the integers: each integer owns [k - 0.5, k + 0.5) on the log axis.
        lo, hi = math.log(low - 0.5 if low > 0.5 else low), math.log(high + 0.5)
        return min(max(round(math.exp(rng.uniform(lo, hi))), low), high)
    if log:
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    return rng.uniform(low, high)
