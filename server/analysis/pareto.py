"""Feasibility, Pareto fronts and hypervolume of completed trials.

Everything here works in "minimize" form: each objective is multiplied by its
sign (+1 minimize, -1 maximize) so that smaller is always better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tunehub.schema import Direction, StudySpec
from tunehub.server.analysis.outcomes import LARGEST, capped

REFERENCE_MARGIN = 0.1
"""An inferred reference point lies this fraction of the front's range beyond its worst point."""


def signs(spec: StudySpec) -> npt.NDArray[np.float64]:
    return np.array([1.0 if o.direction == Direction.MINIMIZE else -1.0 for o in spec.objectives])


def is_feasible(spec: StudySpec, metrics: Mapping[str, Any] | None) -> bool:
    """Whether a completed trial's metrics satisfy every outcome constraint of ``spec``."""
    for constraint in spec.constraints:
        value = (metrics or {}).get(constraint.name)
        if not isinstance(value, int | float) or constraint.slack(float(value)) > 0:
            return False
    return True


def pareto_mask(points: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Which rows of ``points`` (``(n, m)``, minimized) no other row dominates.

    Identical rows are all kept: neither dominates. moocore's filter is O(n log n) up to
    three objectives; a loop in Python over the front took 40 s for 5,000 trials on it.
    """
    import moocore

    if len(points) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(
        moocore.is_nondominated(np.asarray(points, dtype=np.float64), keep_weakly=True)
    )


def staircase(first: Sequence[float], second: Sequence[float]) -> list[int]:
    """Indices of the 2-D Pareto front, both axes minimized, in order of the first axis.

    A sweep in order of (first, second) keeps each point that improves on the second;
    of identical points the earliest is kept.
    """
    order = sorted(range(len(first)), key=lambda i: (first[i], second[i], i))
    front: list[int] = []
    for i in order:
        if not front or second[i] < second[front[-1]]:
            front.append(i)
    return front


def infer_reference(points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The worst value of each objective among ``points`` (minimized), pushed out by 10% of
    their range.

    A single point (zero range) is pushed out by 10% of its magnitude, or 0.1.
    """
    worst = points.max(axis=0)
    with np.errstate(over="ignore"):  # a front spanning most of the doubles
        span = worst - points.min(axis=0)
        span = np.where(span > 0, span, np.maximum(np.abs(worst), 1.0))
        reference = worst + REFERENCE_MARGIN * span
    return np.asarray(np.clip(reference, -LARGEST, LARGEST), dtype=np.float64)


EXACT_FRONT = {4: 20_000, 5: 5_000, 6: 500, 7: 150, 8: 70, 9: 45, 10: 35, 15: 14, 31: 12}
"""Per number of objectives (up to the key), the largest front whose hypervolume is
computed exactly; beyond it, estimated. Exact hypervolume is exponential in the
objectives: each bound took under half a second on a 2-core machine, where 20 points
on 20 objectives took 87 s. Up to three objectives it is O(n log n) at any size."""
ESTIMATE_WORK = 2**26
"""Points times samples for one estimate (about a second), at most 2**16 samples."""


def hypervolume_is_exact(n_points: int, n_objectives: int) -> bool:
    """Whether ``hypervolume`` of such a front is exact (else a seeded estimate)."""
    if n_objectives <= 3:
        return True
    bound = next((n for m, n in EXACT_FRONT.items() if n_objectives <= m), 0)
    return n_points <= bound


def hypervolume(front: npt.NDArray[np.float64], reference: Sequence[float]) -> float:
    """Volume dominated by ``front`` (minimized) and bounded by ``reference``; a volume
    past the largest double (objectives of 1e200) is reported as that.

    Exact where ``hypervolume_is_exact``, else a Monte Carlo estimate (seeded, so the
    same front gives the same number; its relative error is below 1% at 2**16 samples).
    """
    if len(front) == 0:
        return 0.0
    if front.shape[1] == 1:  # one objective: the length from the best value to the bound
        return capped(max(0.0, float(reference[0]) - float(front.min())))
    import moocore  # only hypervolumes need it

    points = np.ascontiguousarray(front, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if hypervolume_is_exact(*points.shape):
        volume = float(moocore.hypervolume(points, ref=ref))
    else:
        samples = int(min(2**16, max(1_024, ESTIMATE_WORK // len(points))))
        volume = float(moocore.hv_approx(points, ref=ref, nsamples=samples, seed=0))
    return capped(volume) if not np.isnan(volume) else LARGEST
