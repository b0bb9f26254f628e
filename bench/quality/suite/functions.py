"""BoTorch's test functions as picklable, cached callables on plain floats.

A problem holds one of these (its class name and arguments), so jobs sent to
worker processes stay small; the torch module is built once per process.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

RANGE_SAMPLES = 1024
"""Sobol' points the range of a function is estimated on (noise levels, offsets)."""


@functools.cache
def _module(cls: str, kwargs: tuple[tuple[str, Any], ...]) -> Any:
    import botorch.test_functions as test_functions

    return getattr(test_functions, cls)(**dict(kwargs))


@dataclass(frozen=True)
class BotorchFunction:
    """``botorch.test_functions.<cls>(**kwargs)``, evaluated noiselessly and minimized."""

    cls: str
    kwargs: tuple[tuple[str, Any], ...] = ()

    @property
    def module(self) -> Any:
        return _module(self.cls, self.kwargs)

    @property
    def dim(self) -> int:
        return int(self.module.dim)

    @property
    def bounds(self) -> list[tuple[float, float]]:
        return [(float(lo), float(hi)) for lo, hi in self.module.bounds.T.tolist()]

    @property
    def optimum(self) -> float:
        return float(self.module.optimal_value)

    @property
    def optimizer(self) -> tuple[float, ...]:
        """One global minimizer, as BoTorch publishes it."""
        return tuple(float(v) for v in self.module._optimizers[0])

    def values(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """All outputs at each row of ``x``: ``(n,)`` for one objective, ``(n, m)`` for more."""
        import torch

        tensor = torch.as_tensor(np.atleast_2d(np.asarray(x, dtype=float)), dtype=torch.double)
        with torch.no_grad():
            out: npt.NDArray[np.float64] = self.module.evaluate_true(tensor).numpy()
        return out

    def slacks(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Constraint slacks at each row of ``x``, ``(n, k)``: feasible where all are >= 0."""
        import torch

        tensor = torch.as_tensor(np.atleast_2d(np.asarray(x, dtype=float)), dtype=torch.double)
        with torch.no_grad():
            out: npt.NDArray[np.float64] = self.module.evaluate_slack_true(tensor).numpy()
        return out

    def __call__(self, x: Sequence[float]) -> float:
        return float(self.values([list(x)])[0])


def sobol_box(bounds: Sequence[tuple[float, float]], n: int = RANGE_SAMPLES) -> npt.NDArray[Any]:
    """``n`` scrambled Sobol' points (seed 0) in the box: fixed, so every derived number is."""
    from scipy.stats import qmc

    unit = qmc.Sobol(len(bounds), scramble=True, seed=0).random(n)
    low = np.array([b[0] for b in bounds])
    high = np.array([b[1] for b in bounds])
    out: npt.NDArray[Any] = low + unit * (high - low)
    return out


@functools.cache
def value_range(function: BotorchFunction) -> float:
    """The function's range over its box: the largest of ``RANGE_SAMPLES`` Sobol' values
    minus the known minimum."""
    return float(function.values(sobol_box(function.bounds)).max() - function.optimum)


def box_space(names: Sequence[str], bounds: Sequence[tuple[float, float]]) -> dict[str, Any]:
    return {
        n: {"type": "float", "low": lo, "high": hi, "log": False}
        for n, (lo, hi) in zip(names, bounds)
    }


@dataclass(frozen=True)
class OnCoordinates:
    """A problem's ``evaluate``: the function at the named coordinates, as objective ``f``."""

    function: BotorchFunction
    names: tuple[str, ...]

    def __call__(self, params: dict[str, Any]) -> dict[str, float]:
        return {"f": self.function([params[n] for n in self.names])}
