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

    Rows are visited in lexicographic order: a row can only be dominated by one
    before it, and if it is, by one already on the front, so the cost is
    O(n * front) rather than O(n^2). Identical rows are all kept: neither dominates.
    """
    order = np.lexsort(points.T[::-1])
    front: list[npt.NDArray[np.float64]] = []
    mask = np.zeros(len(points), dtype=bool)
    for i in order:
        p = points[i]
        if not any(np.all(q <= p) and np.any(q < p) for q in front):
            front.append(p)
            mask[i] = True
    return mask


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


def infer_reference(front: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The worst value of each objective on ``front`` (minimized), pushed out by 10% of its range.

    A single point (zero range) is pushed out by 10% of its magnitude, or 0.1.
    """
    worst = front.max(axis=0)
    with np.errstate(over="ignore"):  # a front spanning most of the doubles
        span = worst - front.min(axis=0)
        span = np.where(span > 0, span, np.maximum(np.abs(worst), 1.0))
        reference = worst + REFERENCE_MARGIN * span
    return np.asarray(np.clip(reference, -LARGEST, LARGEST), dtype=np.float64)


def hypervolume(front: npt.NDArray[np.float64], reference: Sequence[float]) -> float:
    """Volume dominated by ``front`` (minimized) and bounded by ``reference``; a volume
    past the largest double (objectives of 1e200) is reported as that."""
    if len(front) == 0:
        return 0.0
    if front.shape[1] == 1:  # one objective: the length from the best value to the bound
        return capped(max(0.0, float(reference[0]) - float(front.min())))
    import torch  # only hypervolumes need it; a plain server starts without torch
    from botorch.utils.multi_objective.box_decompositions.dominated import (
        DominatedPartitioning,
    )

    ref = torch.as_tensor(np.asarray(reference), dtype=torch.double)
    y = torch.as_tensor(front, dtype=torch.double)
    # BoTorch's partitioning maximizes: negate both.
    partitioning = DominatedPartitioning(ref_point=-ref, Y=-y)
    volume = float(partitioning.compute_hypervolume().item())
    return capped(volume) if not np.isnan(volume) else LARGEST
