"""Closed-form test functions, written from their published definitions.

Each takes plain floats and returns a float, so the problems that wrap them
stay cheap next to any optimizer's own overhead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

BRANIN_MIN = 0.397887357729738
HARTMANN6_MIN = -3.322368011415515

_HARTMANN6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_HARTMANN6_A = np.array(
    [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ]
)
_HARTMANN6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def branin(x1: float, x2: float) -> float:
    """Branin-Hoo on [-5, 10] x [0, 15]; three global minima of 0.397887."""
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


def hartmann6(x: Sequence[float]) -> float:
    """Hartmann 6-D on [0, 1]^6; minimum -3.32237."""
    z = np.asarray(x, dtype=float)
    inner = np.sum(_HARTMANN6_A * (z - _HARTMANN6_P) ** 2, axis=1)
    return float(-np.sum(_HARTMANN6_ALPHA * np.exp(-inner)))


def ackley(x: Sequence[float]) -> float:
    """Ackley (a=20, b=0.2, c=2 pi); minimum 0 at the origin."""
    z = np.asarray(x, dtype=float)
    d = z.size
    first = -20.0 * math.exp(-0.2 * math.sqrt(float(np.sum(z**2)) / d))
    second = -math.exp(float(np.sum(np.cos(2 * math.pi * z))) / d)
    return first + second + 20.0 + math.e


def currin(u1: float, u2: float) -> float:
    """Currin's exponential function on [0, 1]^2 (its ``u2 = 0`` limit is taken as 1)."""
    factor = 1.0 if u2 == 0 else 1.0 - math.exp(-1.0 / (2.0 * u2))
    top = 2300 * u1**3 + 1900 * u1**2 + 2092 * u1 + 60
    bottom = 100 * u1**3 + 500 * u1**2 + 4 * u1 + 20
    return factor * top / bottom
