"""The ``carbs`` policy's search coordinates: numeric parameters on an unbounded scale.

CARBS (Fetterman et al. 2023, "Tune As You Scale") searches by perturbing good
configurations with a Gaussian of one radius in every direction, so a step must
mean about as much along each axis. Each numeric parameter gets one coordinate:

- ``log`` parameters (positive scales: widths, learning rates, steps): ``ln x``, so
  a step multiplies the value;
- fractions (floats inside ``[0, 1]``, not ``log``: dropout, mixing weights):
  ``logit x``, so steps get finer next to 0 and 1;
- other numbers: linear, with the declared range spanning ``LINEAR_SPAN`` units.

Coordinates map back clipped to the declared bounds, integers rounded. Categorical
parameters have no coordinate; the policy flips them with a probability instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from tunehub.server.space.conditions import active_names, ordered_names
from tunehub.server.space.encoding import ParamSpecs
from tunehub.space import CategoricalParam, FloatParam, IntParam, ParamValue

LINEAR_SPAN = 4.0
"""Width of a linear parameter's whole range in search units (``ln 55``: a log
parameter over a 55-fold range spans as much)."""
FRACTION_EDGE = 1e-4
"""Fractions are kept this far inside (0, 1) before the logit."""

Array = npt.NDArray[np.float64]


class Scale(StrEnum):
    LOG = "log"
    LOGIT = "logit"
    LINEAR = "linear"


def scale_of(spec: FloatParam | IntParam) -> Scale:
    if spec.log:
        return Scale.LOG
    if isinstance(spec, FloatParam) and spec.low >= 0.0 and spec.high <= 1.0:
        return Scale.LOGIT
    return Scale.LINEAR


class SearchSpace:
    """Numeric parameters to and from search coordinates; categoricals pass through."""

    def __init__(self, space: ParamSpecs) -> None:
        self.space = space
        self.order = ordered_names(space)
        self.numeric: tuple[str, ...] = tuple(
            n for n in self.order if not isinstance(space[n], CategoricalParam)
        )
        self.categorical: tuple[str, ...] = tuple(
            n for n in self.order if isinstance(space[n], CategoricalParam)
        )
        self.scales = {n: scale_of(self._range(n)) for n in self.numeric}
        self.low = np.array([self._to(n, self._range(n).low) for n in self.numeric])
        self.high = np.array([self._to(n, self._range(n).high) for n in self.numeric])

    @property
    def dims(self) -> int:
        return len(self.numeric)

    def to_search(self, params: Mapping[str, ParamValue]) -> Array:
        """Search coordinates of a configuration; ``NaN`` where a parameter is inactive."""
        out = np.full(self.dims, np.nan)
        for i, name in enumerate(self.numeric):
            value = params.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[i] = self._to(name, float(value))
        return out

    def from_search(self, z: Array, categories: Mapping[str, ParamValue]) -> dict[str, ParamValue]:
        """The configuration at ``z`` (clipped into bounds) with these categorical values.

        Parameters whose conditions do not hold are left out; a ``NaN`` coordinate of an
        active parameter takes the middle of its range.
        """
        full: dict[str, ParamValue] = dict(categories)
        for i, name in enumerate(self.numeric):
            spec = self._range(name)
            coordinate = z[i] if math.isfinite(z[i]) else (self.low[i] + self.high[i]) / 2
            value = min(max(self._from(name, float(coordinate)), spec.low), spec.high)
            full[name] = round(value) if isinstance(spec, IntParam) else value
        active = active_names(self.space, self.order, full)
        return {name: full[name] for name in self.order if name in active}

    def _range(self, name: str) -> FloatParam | IntParam:
        spec = self.space[name]
        assert not isinstance(spec, CategoricalParam)
        return spec

    def _to(self, name: str, x: float) -> float:
        scale = self.scales[name]
        if scale == Scale.LOG:
            return math.log(x)
        if scale == Scale.LOGIT:
            p = min(max(x, FRACTION_EDGE), 1.0 - FRACTION_EDGE)
            return math.log(p / (1.0 - p))
        spec = self._range(name)
        width = float(spec.high - spec.low) or 1.0
        return LINEAR_SPAN * (x - float(spec.low)) / width

    def _from(self, name: str, z: float) -> float:
        scale = self.scales[name]
        if scale == Scale.LOG:
            return math.exp(min(z, 700.0))
        if scale == Scale.LOGIT:
            return 1.0 / (1.0 + math.exp(-max(min(z, 700.0), -700.0)))
        spec = self._range(name)
        width = float(spec.high - spec.low) or 1.0
        return float(spec.low) + z * width / LINEAR_SPAN
