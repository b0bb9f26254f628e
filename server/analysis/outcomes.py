"""Outcomes told in any finite size, made safe for the arithmetic models do on them."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

TAME_ABOVE = 1e100
"""Outcomes past this size are squashed before modelling (``tamed``)."""

LARGEST = float(np.finfo(np.float64).max)


def tamed(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``values``, or their ``arcsinh`` when any is past ``TAME_ABOVE`` in size.

    A diverged run may report 1e300; squaring it (a variance, a kernel distance) is
    infinite, and every fit fails. ``arcsinh`` keeps the order, the sign and the
    values near zero, and is logarithmic beyond; studies without such values are
    modelled exactly as they were.
    """
    out = np.asarray(values, dtype=float)
    return np.asarray(np.arcsinh(out), dtype=float) if needs_taming(out) else out


def needs_taming(values: npt.ArrayLike) -> bool:
    """Whether ``tamed`` squashes ``values``: one of them is past ``TAME_ABOVE`` in size."""
    out = np.asarray(values, dtype=float)
    return bool(out.size) and float(np.max(np.abs(out))) > TAME_ABOVE


def capped(value: float) -> float:
    """``value`` within the largest finite double: JSON has no infinity."""
    return float(np.clip(value, -LARGEST, LARGEST))
