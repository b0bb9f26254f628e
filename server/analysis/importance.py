"""Parameter importance by functional ANOVA over a random forest.

fANOVA (Hutter, Hoos & Leyton-Brown, 2014) asks how much of the variance of the
objective, over the whole search space, each parameter explains on its own. A
random forest fitted to the trials stands in for the objective; each tree is
piecewise constant on boxes, so its marginals and their variances are computed
exactly from the boxes rather than by sampling.

Parameters live in the encoder's unit cube with the uniform measure. An inactive
conditional parameter is fitted at ``-1`` (outside the cube) and marginalised as
an atom at ``-1`` weighted by the observed inactive fraction ``p``, the cube
keeping weight ``1 - p``: "inactive" is one more state, as common as in the
trials, and a tree's split between it and the active values never leaks mass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tunehub.server.analysis.outcomes import tamed
from tunehub.server.space.encoding import ParamSpecs, SpaceEncoder
from tunehub.space import ParamValue

Array = npt.NDArray[np.float64]

N_TREES = 64
MAX_DEPTH = 16
MIN_SAMPLES_LEAF = 2
TREE_SAMPLES = 2000
"""Each tree's bootstrap draws at most this many trials: big studies still use every
trial across the forest, at a cost that stops growing with the study."""

_INACTIVE = -1.0
"""Where inactive conditional parameters sit; below every encoded value."""
_LOW, _HIGH = -2.0, 2.0
"""Axis ends beyond every value and every split, so boxes are ``(lo, hi]``."""


def parameter_importance(
    space: ParamSpecs,
    params: Sequence[Mapping[str, ParamValue]],
    values: Sequence[float],
    *,
    seed: int = 0,
) -> dict[str, float]:
    """Each parameter's share, in ``[0, 1]``, of the variance it explains alone.

    Keys follow the encoder's order. Trials with a non-finite value are skipped;
    fewer than two usable trials, or a constant objective, give all zeros.
    """
    if len(params) != len(values):
        raise ValueError(f"got {len(params)} configurations but {len(values)} values")
    encoder = SpaceEncoder(space)
    zeros = dict.fromkeys(encoder.names, 0.0)
    y = np.asarray(values, dtype=float)
    keep = np.isfinite(y)
    y = tamed(y[keep])
    if encoder.dims == 0 or y.size < 2 or np.ptp(y) == 0.0:
        return zeros
    x = encoder.encode_many([p for p, k in zip(params, keep) if k])
    inactive = np.isnan(x)
    x[inactive] = _INACTIVE
    inactive_share = inactive.mean(axis=0)

    from sklearn.ensemble import RandomForestRegressor  # imported on first use: it is slow

    forest = RandomForestRegressor(
        n_estimators=N_TREES,
        max_depth=MAX_DEPTH,
        min_samples_leaf=MIN_SAMPLES_LEAF,
        max_features=1.0,
        max_samples=min(y.size, TREE_SAMPLES),
        random_state=seed % 2**32,  # a study seed may be any 63-bit number
        n_jobs=1,
    ).fit(x, y)

    shares = [_tree_shares(t.tree_, inactive_share) for t in forest.estimators_]
    informative = [s for s in shares if s is not None]
    if not informative:
        return zeros
    mean = np.clip(np.mean(informative, axis=0), 0.0, 1.0)
    return {name: float(v) for name, v in zip(encoder.names, mean)}


def normalized(importances: Mapping[str, float]) -> dict[str, float]:
    """Rescale importances to sum to 1, for display; all zeros stay zeros.

    Raw shares leave out interactions, so they often sum well below 1.
    """
    total = sum(importances.values())
    if total <= 0.0:
        return dict.fromkeys(importances, 0.0)
    return {name: v / total for name, v in importances.items()}


def _cdf(t: Array, inactive_share: Array | float) -> Array:
    """Measure of ``(-inf, t]`` per axis: the inactive atom, then the uniform cube."""
    atom = (t >= _INACTIVE).astype(float)
    return inactive_share * atom + (1.0 - inactive_share) * np.clip(t, 0.0, 1.0)


def _leaf_boxes(tree: Any, dims: int) -> tuple[Array, Array, npt.NDArray[np.intp]]:
    """Lower and upper corners of every node's box, and the leaf ids.

    Walks the tree level by level so the work is a few array operations per depth.
    """
    left: npt.NDArray[np.intp] = tree.children_left
    right: npt.NDArray[np.intp] = tree.children_right
    feature: npt.NDArray[np.intp] = tree.feature
    threshold: Array = tree.threshold
    lo = np.full((tree.node_count, dims), _LOW)
    hi = np.full((tree.node_count, dims), _HIGH)
    frontier = np.array([0], dtype=np.intp)
    while frontier.size:
        split = frontier[left[frontier] >= 0]
        l_child, r_child, f, t = left[split], right[split], feature[split], threshold[split]
        lo[l_child], hi[l_child] = lo[split], hi[split]
        lo[r_child], hi[r_child] = lo[split], hi[split]
        hi[l_child, f] = t
        lo[r_child, f] = t
        frontier = np.concatenate([l_child, r_child])
    leaves = np.flatnonzero(left < 0)
    return lo, hi, leaves


def _tree_shares(tree: Any, inactive_share: Array) -> Array | None:
    """First-order variance shares of one tree, or ``None`` when it is constant."""
    dims = inactive_share.size
    lo, hi, leaves = _leaf_boxes(tree, dims)
    lo, hi = lo[leaves], hi[leaves]
    y: Array = tree.value[leaves, 0, 0]
    side = _cdf(hi, inactive_share) - _cdf(lo, inactive_share)  # (leaves, dims)
    volume = side.prod(axis=1)
    mean = float(volume @ y)
    total = float(volume @ (y - mean) ** 2)
    if total <= 0.0 or np.ptp(y[volume > 0.0]) == 0.0:
        return None

    shares = np.zeros(dims)
    split_feature = tree.feature[tree.children_left >= 0]
    split_threshold = tree.threshold[tree.children_left >= 0]
    for j in np.unique(split_feature):
        cuts = np.unique(split_threshold[split_feature == j])
        grid = np.concatenate([[_LOW], cuts, [_HIGH]])
        width = np.diff(_cdf(grid, float(inactive_share[j])))
        # A leaf spans grid intervals [start, stop); its weight within any one of them
        # is its volume over its own side along j (the other axes are integrated out).
        start = np.searchsorted(grid, lo[:, j])
        stop = np.searchsorted(grid, hi[:, j])
        with np.errstate(divide="ignore", invalid="ignore"):
            mass = np.where(side[:, j] > 0.0, volume * y / side[:, j], 0.0)
        steps = np.bincount(start, mass, grid.size) - np.bincount(stop, mass, grid.size)
        marginal = np.cumsum(steps)[: width.size]
        shares[j] = float(width @ (marginal - mean) ** 2) / total
    return shares
