"""The one mapping between configurations and the unit cube that every policy uses.

Each parameter owns one dimension of ``[0, 1]^d``:

- float: linear, or linear in ``log`` when ``log`` is set;
- int: the range ``[low - 0.5, high + 0.5]`` (in log space when ``log``) is cut
  into equal bins, one per integer, so every integer is equally likely under a
  uniform draw and decoding rounds consistently;
- categorical: ``k`` equal bins, one per choice, in declaration order.

Conditional parameters still own their dimension; decoding drops the ones whose
condition does not hold, and encoding marks them ``NaN`` so a model can tell
"inactive" from any real value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from tunehub.server.space.conditions import active_names, ordered_names
from tunehub.space import CategoricalParam, FloatParam, IntParam, ParamValue

Params = dict[str, ParamValue]
ParamSpecs = Mapping[str, FloatParam | IntParam | CategoricalParam]


class SpaceEncoder:
    """Encode configurations to ``(d,)`` arrays in ``[0, 1]`` and decode them back."""

    def __init__(self, space: ParamSpecs) -> None:
        self.space = space
        self.names: tuple[str, ...] = ordered_names(space)

    @property
    def dims(self) -> int:
        return len(self.names)

    def decode(self, point: npt.ArrayLike) -> Params:
        """Decode one point of the cube (``(d,)``); inactive parameters are left out."""
        u = np.clip(np.asarray(point, dtype=float), 0.0, 1.0)
        if u.shape != (self.dims,):
            raise ValueError(f"expected a point of shape ({self.dims},), got {u.shape}")
        full = {name: _decode_one(self.space[name], float(x)) for name, x in zip(self.names, u)}
        active = active_names(self.space, self.names, full)
        return {name: full[name] for name in self.names if name in active}

    def encode(self, params: Mapping[str, ParamValue]) -> npt.NDArray[np.float64]:
        """Encode a configuration to ``(d,)``; absent (inactive) parameters are ``NaN``."""
        out = np.full(self.dims, np.nan)
        for i, name in enumerate(self.names):
            if name in params:
                out[i] = _encode_one(self.space[name], params[name])
        return out


def _decode_one(spec: FloatParam | IntParam | CategoricalParam, u: float) -> ParamValue:
    if isinstance(spec, CategoricalParam):
        k = len(spec.choices)
        return spec.choices[min(int(u * k), k - 1)]
    if isinstance(spec, IntParam):
        lo, hi = _int_edges(spec)
        x = math.exp(lo + u * (hi - lo)) if spec.log else lo + u * (hi - lo)
        return int(min(max(round(x), spec.low), spec.high))
    if spec.low == spec.high:
        return spec.low
    if spec.log:
        lo, hi = math.log(spec.low), math.log(spec.high)
        value = math.exp(lo + u * (hi - lo))
    else:
        value = spec.low + u * (spec.high - spec.low)
    return min(max(value, spec.low), spec.high)


def _encode_one(spec: FloatParam | IntParam | CategoricalParam, value: ParamValue) -> float:
    if isinstance(spec, CategoricalParam):
        index = next(i for i, c in enumerate(spec.choices) if type(c) is type(value) and c == value)
        return (index + 0.5) / len(spec.choices)
    assert isinstance(value, int | float)
    if isinstance(spec, IntParam):
        lo, hi = _int_edges(spec)
        x = math.log(value) if spec.log else float(value)
        return (x - lo) / (hi - lo)
    if spec.low == spec.high:
        return 0.5
    if spec.log:
        return (math.log(value) - math.log(spec.low)) / (math.log(spec.high) - math.log(spec.low))
    return (value - spec.low) / (spec.high - spec.low)


def _int_edges(spec: IntParam) -> tuple[float, float]:
    if spec.log:
        return math.log(spec.low - 0.5), math.log(spec.high + 0.5)
    return spec.low - 0.5, spec.high + 0.5
