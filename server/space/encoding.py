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
from collections.abc import Mapping, Sequence

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
        row: npt.NDArray[np.float64] = self.encode_many([params])[0]
        return row

    def encode_many(self, configs: Sequence[Mapping[str, ParamValue]]) -> npt.NDArray[np.float64]:
        """Encode configurations to ``(n, d)``, a column at a time (studies reach 10^4 trials)."""
        out = np.full((len(configs), self.dims), np.nan)
        for j, name in enumerate(self.names):
            rows = [i for i, params in enumerate(configs) if name in params]
            if rows:
                values = [configs[i][name] for i in rows]
                out[rows, j] = _encode_column(self.space[name], name, values)
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


def _encode_column(
    spec: FloatParam | IntParam | CategoricalParam, name: str, values: Sequence[ParamValue]
) -> npt.NDArray[np.float64]:
    if isinstance(spec, CategoricalParam):
        # Keyed by type too: True is not the choice 1, nor 1.0 the choice 1.
        codes = {(type(c), c): (i + 0.5) / len(spec.choices) for i, c in enumerate(spec.choices)}
        try:
            return np.array([codes[type(v), v] for v in values])
        except KeyError as missing:
            value = missing.args[0][1]
            raise ValueError(f"{name}: {value!r} is not one of {spec.choices}") from None
    x = np.asarray(values, dtype=float)
    if isinstance(spec, IntParam):
        lo, hi = _int_edges(spec)
        return ((np.log(x) if spec.log else x) - lo) / (hi - lo)
    if spec.low == spec.high:
        return np.full(x.shape, 0.5)
    if spec.log:
        unit = (np.log(x) - math.log(spec.low)) / (math.log(spec.high) - math.log(spec.low))
    else:
        unit = (x - spec.low) / (spec.high - spec.low)
    return np.asarray(unit, dtype=float)


def _int_edges(spec: IntParam) -> tuple[float, float]:
    if spec.log:
        return math.log(spec.low - 0.5), math.log(spec.high + 0.5)
    return spec.low - 0.5, spec.high + 0.5
