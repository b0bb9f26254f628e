"""Hypervolumes of Pareto fronts: exact where affordable, a seeded estimate beyond."""

from __future__ import annotations

import numpy as np
import pytest

from tunehub.server.analysis import pareto
from tunehub.server.analysis.outcomes import LARGEST


def test_exact_volumes_of_fronts_worked_out_by_hand() -> None:
    # Two points under (1, 1), as disjoint boxes: [0.2, 1] x [0.3, 1] = 0.56, and
    # [0.5, 1] x [0.1, 0.3] = 0.1.
    front = np.array([[0.2, 0.3], [0.5, 0.1]])
    assert pareto.hypervolume(front, [1.0, 1.0]) == pytest.approx(0.66)
    assert pareto.hypervolume(np.array([[0.2, 0.3, 0.1]]), [1, 1, 1]) == pytest.approx(0.504)
    # A point beyond the reference adds nothing.
    assert pareto.hypervolume(np.array([[0.2, 0.3], [2.0, 0.0]]), [1, 1]) == pytest.approx(0.56)


def test_the_estimate_of_a_front_too_wide_to_compute_exactly_is_close_and_repeatable() -> None:
    import moocore

    rng = np.random.default_rng(0)
    front = rng.random((600, 6))
    front /= np.linalg.norm(front, axis=1, keepdims=True)  # all on the front
    reference = [1.1] * 6
    assert not pareto.hypervolume_is_exact(*front.shape)
    estimate = pareto.hypervolume(front, reference)
    exact = moocore.hypervolume(front, ref=np.array(reference))
    assert abs(estimate - exact) / exact < 0.02
    assert pareto.hypervolume(front, reference) == estimate


def test_a_volume_past_the_largest_double_is_reported_as_that() -> None:
    front = np.array([[-1e200, -1e200], [0.0, 0.0]])
    assert pareto.hypervolume(front, [1e200, 1e200]) == LARGEST


def test_the_pareto_filter_agrees_with_pairwise_dominance_and_keeps_ties() -> None:
    rng = np.random.default_rng(3)
    for m in (1, 2, 3, 5):
        points = rng.integers(0, 6, size=(300, m)).astype(float)  # many ties
        dominated = [any(np.all(q <= p) and np.any(q < p) for q in points) for p in points]
        assert pareto.pareto_mask(points).tolist() == [not d for d in dominated]
    assert pareto.pareto_mask(np.zeros((0, 2))).shape == (0,)
