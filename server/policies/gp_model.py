"""The Gaussian-process surrogate of the ``gp`` policy: inputs, model, fit.

Inputs are the unit-cube encoding (already normalized, so no input scaling is
needed). Without categoricals the kernel is a scaled Matern-5/2 with Gamma(3, 6)
lengthscale and Gamma(2, 0.15) outputscale priors: on Hartmann6 it finds the
narrow global basin that BoTorch's newer dimension-scaled priors, which favour
long lengthscales, smooth over (median final regret 0.007 against 0.50 over five
seeds, all else equal, in bench/quality). With categoricals, ``MixedSingleTaskGP``
adds BoTorch's categorical (Hamming) kernel to its continuous one. Integer
dimensions are searched over their bin centres only, so the model never sees two
codes for one integer.

One objective is modelled half-rank warped (``half_rank_warp``), so that a few
very bad trials do not set the scale the model resolves the optimum on.

Inactive conditional parameters are set to ``INACTIVE`` (outside the cube) by
``ImputeInactive``, on training points and on every candidate the acquisition
looks at: configurations that agree on their active parameters then look
identical to the model, whatever the free coordinates of the inactive ones.

Fitted hyperparameters are returned as plain JSON so the policy can store them
with the trials it suggests: the next fit starts from them (a warm start that
takes a few L-BFGS steps), and a restarted server starts from the same place,
so it fits, and suggests, exactly what the first server would have.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models.gp_regression import SingleTaskGP
from botorch.models.gp_regression_mixed import MixedSingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms.input import InputTransform
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.gpytorch_modules import get_matern_kernel_with_gamma_prior
from gpytorch.constraints import GreaterThan
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import LogNormalPrior
from scipy.special import ndtri
from scipy.stats import rankdata
from torch import Tensor

from tunehub.server.space.conditions import matches as _matches
from tunehub.server.space.encoding import SpaceEncoder
from tunehub.space import CategoricalParam, FloatParam, IntParam

INACTIVE = -0.5
"""Model coordinate of an inactive parameter: outside the cube, so never near an active value."""

MIN_NOISE = 1e-6
"""Floor of the inferred noise variance (standardized outcomes). BoTorch's default, 1e-4,
blurs a deterministic objective near its optimum (on Branin, differences below about
0.5); with the LogNormal noise prior kept, noisy objectives still find their level."""

MODEL_THREADS = int(os.environ.get("TUNEHUB_MODEL_THREADS", "1"))
"""Threads torch uses for model work (``TUNEHUB_MODEL_THREADS``). Fit matrices are at
most a few hundred wide, where OpenMP fan-out mostly spins and thrashes when asks or
processes share cores: one thread fitted the carbs tests 3.7x faster on a loaded
2-core machine. Every policy with a model imports this module, so it holds for all."""
torch.set_num_threads(max(1, MODEL_THREADS))

MODEL_WORK = threading.Lock()
"""Seeding torch and fitting use process-wide state (torch's generator, the warnings
filters BoTorch's fit retries read), so model work runs one ask at a time per process."""

MAX_DISCRETE_VALUES = 32
"""Integer dimensions with more values are searched continuously and rounded on decode."""

Hypers = dict[str, list[Any]]


@dataclass(frozen=True)
class _Gate:
    """``child`` is active only where ``parent``'s coordinate falls in one of ``intervals``."""

    child: int
    parent: int
    intervals: tuple[tuple[float, float], ...]


class ModelSpace:
    """How the encoder's cube maps to model inputs: dimension kinds and condition gates."""

    def __init__(self, encoder: SpaceEncoder) -> None:
        self.encoder = encoder
        index = {name: i for i, name in enumerate(encoder.names)}
        self.cat_dims: dict[int, list[float]] = {}
        self.discrete_dims: dict[int, list[float]] = {}
        gates: list[_Gate] = []
        for i, name in enumerate(encoder.names):
            spec = encoder.space[name]
            if isinstance(spec, CategoricalParam):
                k = len(spec.choices)
                self.cat_dims[i] = [(j + 0.5) / k for j in range(k)]
            elif isinstance(spec, IntParam) and spec.high - spec.low + 1 <= MAX_DISCRETE_VALUES:
                self.discrete_dims[i] = [
                    float(encoder.encode({name: v})[i]) for v in range(spec.low, spec.high + 1)
                ]
            for parent, allowed in (spec.condition or {}).items():
                p = index[parent]
                gates.append(_Gate(i, p, _intervals(encoder, p, allowed)))
        self.gates = tuple(gates)

    @property
    def dims(self) -> int:
        return self.encoder.dims

    def canonical(self, points: Tensor) -> Tensor:
        """Snap categorical and integer coordinates to their bin centres, and gate."""
        x = points.clone()
        for i, centres in self.cat_dims.items():
            # k equal bins: the bin is the coordinate's floor, with no k-wide comparison
            # (a categorical may have 10,000 choices).
            k = len(centres)
            x[..., i] = (((x[..., i] * k).ceil() - 1).clamp(0, k - 1) + 0.5) / k
        for i, centres in self.discrete_dims.items():
            values = torch.as_tensor(centres, dtype=x.dtype)
            nearest = (x[..., i : i + 1] - values).abs().argmin(dim=-1)
            x[..., i] = values[nearest]
        return self.gate(x)

    def gate(self, x: Tensor) -> Tensor:
        """Set inactive coordinates to ``INACTIVE`` (parents come before children)."""
        if not self.gates:
            return x
        out = x.clone()
        for gate in self.gates:
            u = out[..., gate.parent]
            active = torch.zeros_like(u, dtype=torch.bool)
            for low, high in gate.intervals:
                active |= (u >= low) & (u < high)
            out[..., gate.child] = torch.where(
                active, out[..., gate.child], torch.full_like(u, INACTIVE)
            )
        return out


def _intervals(
    encoder: SpaceEncoder, parent: int, allowed: Sequence[Any]
) -> tuple[tuple[float, float], ...]:
    """The parts of the parent's ``[0, 1]`` coordinate that decode to an allowed value."""
    spec = encoder.space[encoder.names[parent]]
    if isinstance(spec, CategoricalParam):
        k = len(spec.choices)
        return tuple(
            (j / k, (j + 1) / k if j < k - 1 else math.inf)
            for j, choice in enumerate(spec.choices)
            if _matches(choice, list(allowed))
        )
    out = []
    for value in allowed:
        if isinstance(spec, IntParam):
            if not any(_matches(v, [value]) for v in range(spec.low, spec.high + 1)):
                continue
            lo, hi = (value - 0.5, value + 0.5)
            if spec.log:
                lo, hi = math.log(max(lo, 1e-300)), math.log(hi)
                base, top = math.log(spec.low - 0.5), math.log(spec.high + 0.5)
            else:
                base, top = spec.low - 0.5, spec.high + 0.5
            upper = math.inf if value >= spec.high else (hi - base) / (top - base)
            out.append(((lo - base) / (top - base), upper))
        else:
            assert isinstance(spec, FloatParam)
            u = float(encoder.encode({encoder.names[parent]: value})[parent])
            out.append((u - 1e-9, u + 1e-9))
    return tuple(out)


def model_inputs(space: ModelSpace, encoded: npt.NDArray[np.float64]) -> Tensor:
    """Encoded configurations (``(n, d)``, ``NaN`` where inactive) as the model's inputs."""
    filled = torch.nan_to_num(torch.as_tensor(encoded, dtype=torch.double), nan=INACTIVE)
    return space.canonical(filled)


class ImputeInactive(InputTransform, torch.nn.Module):  # type: ignore[misc]
    """``ModelSpace.gate`` as a BoTorch input transform, applied on training and candidates."""

    def __init__(self, space: ModelSpace) -> None:
        super().__init__()
        self.space = space
        self.transform_on_train = True
        self.transform_on_eval = True
        self.transform_on_fantasize = True

    def transform(self, X: Tensor) -> Tensor:
        d = self.space.dims
        if X.shape[-1] == d:
            return self.space.gate(X)
        # extra columns (a budget) follow the configuration and pass through
        return torch.cat([self.space.gate(X[..., :d]), X[..., d:]], dim=-1)

    def equals(self, other: InputTransform) -> bool:
        return isinstance(other, ImputeInactive) and other.space is self.space


def build_model(space: ModelSpace, x: Tensor, y: Tensor, kernel: str = "matern-gamma") -> Model:
    """An unfitted GP of ``y`` (``(n, m)``, outputs modelled independently) on ``x``.

    ``kernel`` (floats-only spaces): ``matern-gamma``, or ``botorch`` for BoTorch's default,
    an RBF kernel with the dimension-scaled LogNormal lengthscale prior (Hvarfner et al., 2024).
    """
    transform = ImputeInactive(space) if space.gates else None
    outcome = Standardize(m=y.shape[-1])
    batch = torch.Size([y.shape[-1]]) if y.shape[-1] > 1 else torch.Size()
    if space.cat_dims:
        return MixedSingleTaskGP(
            x,
            y,
            cat_dims=sorted(space.cat_dims),
            likelihood=_likelihood(batch),
            outcome_transform=outcome,
            input_transform=transform,
        )
    return SingleTaskGP(
        x,
        y,
        likelihood=_likelihood(batch),
        covar_module=(
            get_matern_kernel_with_gamma_prior(x.shape[-1], batch_shape=batch)
            if kernel == "matern-gamma"
            else None  # BoTorch's default
        ),
        outcome_transform=outcome,
        input_transform=transform,
    )


def half_rank_warp(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Warp maximized outcomes so the worse half cannot dominate the model's scale.

    Values at or above the median are kept; those below it are replaced by the
    normal quantiles of their ranks, with the spread of the better half (as in
    Vizier's half-rank output warping). A few very bad trials (a diverged run,
    Branin's corners at 300 against an optimum of 0.4) otherwise set the
    standardized scale, and differences near the optimum fall below the noise floor.
    The map is monotone, so the incumbent and every comparison are unchanged.
    """
    out = np.asarray(values, dtype=float).copy()
    median = float(np.median(out))
    better = out[out >= median]
    spread = float(np.sqrt(np.mean((better - median) ** 2)))
    worse = out < median
    if not worse.any() or spread == 0.0:
        return out
    quantile = (rankdata(out) - 0.5) / len(out)
    out[worse] = median + spread * ndtri(np.minimum(quantile[worse], 0.5))
    return out


def slack_warp(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Compress a constraint's slacks (feasible at <= 0) around their typical size.

    ``arcsinh(slack / s)``, with ``s`` the median absolute slack: linear near the
    boundary, logarithmic far from it, and zero stays zero, so every trial keeps its
    feasibility and a probability of feasibility under the warped model is one of
    the slack itself. Engineering constraints spread over decades (a welded beam's
    buckling slack runs from -2e7 to 3e4): standardized as they are, the far values
    set the scale and the boundary, where the probabilities are decided, is flat.
    """
    out = np.asarray(values, dtype=float)
    scale = float(np.median(np.abs(out)))
    if not math.isfinite(scale) or scale <= 0.0:
        return out.copy()
    return np.asarray(np.arcsinh(out / scale), dtype=float)


def _likelihood(batch_shape: torch.Size) -> GaussianLikelihood:
    prior = LogNormalPrior(loc=-4.0, scale=1.0)  # BoTorch's default prior (Hvarfner et al.)
    return GaussianLikelihood(
        noise_prior=prior,
        batch_shape=batch_shape,
        noise_constraint=GreaterThan(MIN_NOISE, transform=None, initial_value=prior.mode),
    )


def fit(model: Model, start: Hypers | None, *, maxiter: int, fresh: bool = True) -> Hypers:
    """Fit ``model``'s hyperparameters by marginal likelihood (with priors).

    The fit starts from ``start`` (the last fit) when given and, when ``fresh`` or
    without ``start``, also from the priors' default; the better optimum wins. Warm
    starts alone can stay in a poor local optimum once in one (on Branin, "everything
    is noise" for the rest of a study); the default alone would throw away what the
    last fit learnt, and costs many more steps.
    """
    default = dump_hypers(model)
    best: tuple[float, Hypers] | None = None
    starts = [start] if start is not None else []
    for begin in starts + ([None] if fresh or not starts else []):
        load_hypers(model, default)
        if begin is not None and not load_hypers(model, begin):
            continue
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": maxiter}})
        value = _log_marginal_likelihood(mll)
        if best is None or value > best[0]:
            best = (value, dump_hypers(model))
    assert best is not None
    load_hypers(model, best[1])
    model.eval()
    return best[1]


def refit_schedule(n: int, fit_n: int, growth: float) -> tuple[bool, bool]:
    """Whether hyperparameters fitted on ``fit_n`` points (0: none yet) are refitted now that
    there are ``n``, and whether that fit also starts from the priors' default.

    A refit is due once the data grew by ``growth`` (at least one point). It also starts
    from the default each time the data doubles: often enough to leave a poor optimum that
    warm starts keep returning to, rarely enough that most refits stay cheap.
    """
    if fit_n <= 0:
        return True, True
    due = n >= fit_n + max(1, math.floor(fit_n * growth))
    fresh = math.floor(math.log2(max(n, 1))) > math.floor(math.log2(fit_n))
    return due, fresh


def _log_marginal_likelihood(mll: ExactMarginalLogLikelihood) -> float:
    model = mll.model
    model.train()
    with torch.no_grad():
        value = mll(model(*model.train_inputs), model.train_targets).sum()
    model.eval()
    return float(value) if math.isfinite(float(value)) else -math.inf


def dump_hypers(model: Model) -> Hypers:
    return {name: p.detach().tolist() for name, p in model.named_parameters()}


def load_hypers(model: Model, hypers: Mapping[str, Any]) -> bool:
    """Copy stored hyperparameters into ``model``; False (nothing changed) when shapes differ."""
    params = dict(model.named_parameters())
    if set(params) != set(hypers):
        return False
    values = {n: torch.as_tensor(hypers[n], dtype=p.dtype) for n, p in params.items()}
    if any(values[n].shape != p.shape for n, p in params.items()):
        return False
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(values[name])
    return True
