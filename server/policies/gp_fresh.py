"""Suggestions of the ``gp`` policy that repeat no configuration the study already holds.

An acquisition maximized over integers and categoricals, or pressed against a bound of
the box, can come back to a configuration already tried: on scikit-learn's kNN (200
configurations), 13 to 37 of a 50-trial study's trials repeated earlier ones, and on
ZDT2 (its front lies on a face of the box) up to 26. A repeat of a deterministic
objective teaches the model nothing. So a suggestion that repeats a trial (or an
earlier suggestion of the same ask) is replaced by the new configuration that the same
acquisition scores best, among candidates near it and spread over the box, or among
every configuration when the space is a small grid. It stays a repeat only when no
candidate is new: the space is exhausted. Ax's default generation strategy also
deduplicates.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.quasirandom import SobolEngine

from tunehub.server.policies import gp_model

GRID_LIMIT = 4_096
"""Spaces of integers and categoricals with at most this many configurations are scored whole."""

NEAR = 256
"""Candidates drawn around the repeat: its neighbourhood holds what the acquisition liked."""

SPREAD = 256
"""Candidates spread over the box (scrambled Sobol'), for when the neighbourhood is all tried."""

STEP = 0.05
"""Standard deviation of the moves of continuous coordinates, as a share of the box."""

RESAMPLE = 0.25
"""Chance that a near candidate draws an integer's or categorical's value afresh."""


def key(params: Mapping[str, Any]) -> str:
    """What makes two configurations the same: their parameters, as stored."""
    return json.dumps(params, sort_keys=True, default=str)


def without_repeats(
    points: Tensor,
    *,
    acqf: Any,
    space: gp_model.ModelSpace,
    bounds: Tensor,
    seen: set[str],
    seed: int,
    chunk: int,
) -> list[dict[str, Any]]:
    """Decode canonical ``points`` (``(q, d)``), replacing repeats of ``seen`` and of each other."""
    taken = set(seen)
    generator = torch.Generator().manual_seed(seed)
    out = []
    for point in points:
        params = _decode(space, point)
        if key(params) in taken:
            params = _best_new(point, acqf, space, bounds, taken, generator, chunk) or params
        taken.add(key(params))
        out.append(params)
    return out


def _decode(space: gp_model.ModelSpace, point: Tensor) -> dict[str, Any]:
    return dict(space.encoder.decode(point.clamp(0.0, 1.0).numpy()))


def _best_new(
    point: Tensor,
    acqf: Any,
    space: gp_model.ModelSpace,
    bounds: Tensor,
    taken: set[str],
    generator: torch.Generator,
    chunk: int,
) -> dict[str, Any] | None:
    pool = _candidates(point, space, bounds, generator)
    decoded = [_decode(space, p) for p in pool]
    new: list[int] = []
    keys: set[str] = set()
    for i, params in enumerate(decoded):
        k = key(params)
        if k not in taken and k not in keys:
            keys.add(k)
            new.append(i)
    if not new:
        return None
    x = pool[new].unsqueeze(-2)
    with torch.no_grad():
        scores = torch.cat([acqf(part).reshape(-1) for part in torch.split(x, max(1, chunk))])
    return decoded[new[int(scores.argmax())]]


def _candidates(
    point: Tensor, space: gp_model.ModelSpace, bounds: Tensor, generator: torch.Generator
) -> Tensor:
    """Canonical candidates: the whole grid when small, else near the point and spread."""
    fixed = {**space.cat_dims, **space.discrete_dims}
    if len(fixed) == space.dims and _grid_size(fixed.values()) <= GRID_LIMIT:
        grid = torch.tensor(
            list(itertools.product(*(fixed[i] for i in range(space.dims)))), dtype=torch.double
        )
        return space.canonical(grid)
    low, high = bounds[0], bounds[1]
    near = point.clamp(low, high) + STEP * (high - low) * torch.randn(
        NEAR, space.dims, generator=generator, dtype=torch.double
    )
    for i, values in fixed.items():
        fresh = torch.rand(NEAR, generator=generator, dtype=torch.double) < RESAMPLE
        picks = torch.randint(len(values), (NEAR,), generator=generator)
        near[fresh, i] = torch.as_tensor(values, dtype=torch.double)[picks[fresh]]
    sobol_seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    sobol = SobolEngine(space.dims, scramble=True, seed=sobol_seed)  # type: ignore[no-untyped-call]
    spread = low + (high - low) * sobol.draw(SPREAD, dtype=torch.double)
    return space.canonical(torch.maximum(torch.minimum(torch.cat([near, spread]), high), low))


def _grid_size(values: Iterable[Sequence[float]]) -> int:
    return math.prod(len(v) for v in values)
