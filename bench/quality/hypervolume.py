"""Hypervolume of a minimization front, the multi-objective score."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import moocore
import numpy as np


def hypervolume_2d(points: Iterable[Sequence[float]], reference: Sequence[float]) -> float:
    """Area dominated by ``points`` and bounded by ``reference`` (both objectives minimized).

    Points that do not strictly dominate the reference add nothing. Sorting by
    the first objective makes the front a staircase whose steps are summed.
    """
    r1, r2 = reference
    inside = sorted((float(p[0]), float(p[1])) for p in points if p[0] < r1 and p[1] < r2)
    front: list[tuple[float, float]] = []
    for f1, f2 in inside:
        if not front or f2 < front[-1][1]:
            front.append((f1, f2))
    area = 0.0
    for i, (f1, f2) in enumerate(front):
        right = front[i + 1][0] if i + 1 < len(front) else r1
        area += (right - f1) * (r2 - f2)
    return area


def hypervolume(points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """The exact hypervolume for any number of objectives: the staircase for two, moocore's
    for more (fronts of a benchmark run are at most a few hundred points)."""
    if len(reference) == 2:
        return hypervolume_2d(points, reference)
    ref = np.asarray(reference, dtype=float)
    inside = [p for p in points if all(v < r for v, r in zip(p, ref))]
    if not inside:
        return 0.0
    return float(moocore.hypervolume(np.asarray(inside, dtype=float), ref=ref))
