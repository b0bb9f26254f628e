"""The ``gp`` searcher of the schedulers: model-based new configurations, MOBSTER-style.

One Gaussian process models the loss over (configuration, budget), fed by every
completed trial on every rung (Klein et al., "Model-based Asynchronous
Hyperparameter and Neural Architecture Search", 2020). A new configuration
maximizes expected improvement at the highest rung that has enough results to
compare against: early on the bottom rung, later the rungs that matter. The
budget is one more input, ``log(budget / min) / log(max / min)``, so lower rungs
inform higher ones through the kernel's lengthscale instead of being thrown away.

Inputs are the unit-cube encoding with inactive conditional parameters set
apart (``gp_model.ImputeInactive``, which passes the budget column through);
integers and categoricals are searched relaxed and rounded on decoding. The
fit starts from the priors every time and the random streams are seeded by
(seed, trial number), so the suggestion is a function of the stored trials.
Until enough results exist, or when the fit fails, the configuration is the
random one of its number.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from botorch.acquisition.fixed_feature import FixedFeatureAcquisitionFunction
from botorch.fit import fit_gpytorch_mll
from botorch.models.gp_regression import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.gpytorch_modules import get_matern_kernel_with_gamma_prior
from botorch.optim.optimize import optimize_acqf
from gpytorch.mlls import ExactMarginalLogLikelihood

from tunehub.schema import Direction, TrialState
from tunehub.server.analysis.outcomes import tamed
from tunehub.server.policies import gp_model
from tunehub.server.policies.base import StudyView, TrialRecord
from tunehub.server.policies.gp_predictive import PluginLogEI
from tunehub.server.policies.rungs import rung_at
from tunehub.server.policies.schedulers import budgets_of, fidelity_of
from tunehub.space import ParamValue

MAX_POINTS = 400
"""Most recent completed trials the model is fitted to, bounding each ask's fit."""


def model_based(view: StudyView, number: int) -> dict[str, ParamValue] | None:
    objective = view.spec.objectives[0]
    completed = [
        t
        for t in view.trials([TrialState.COMPLETED])
        if t.budget is not None and math.isfinite((t.values or {}).get(objective.name, math.nan))
    ][-MAX_POINTS:]
    dims = view.encoder.dims
    enough = max(5, dims + 1)
    if len(completed) < enough:
        return None
    budgets = budgets_of(view)
    fidelity = fidelity_of(view)
    counts = _rung_counts(budgets, completed)
    rung = max((k for k, n in counts.items() if n >= enough), default=min(counts))
    level = _level(budgets[rung], fidelity.min, fidelity.max)
    space = gp_model.ModelSpace(view.encoder)
    sign = -1.0 if objective.direction == Direction.MINIMIZE else 1.0
    encoded = view.encoder.encode_many([t.params for t in completed])
    x = torch.nan_to_num(torch.as_tensor(encoded, dtype=torch.double), nan=gp_model.INACTIVE)
    levels = [_level(float(t.budget or 0.0), fidelity.min, fidelity.max) for t in completed]
    x = torch.cat([x, torch.as_tensor(levels, dtype=torch.double).unsqueeze(-1)], dim=-1)
    raw = [sign * float((t.values or {})[objective.name]) for t in completed]
    y = torch.as_tensor(tamed(np.array(raw)), dtype=torch.double).unsqueeze(-1)
    torch.manual_seed((view.seed * 2**32 + number) % 2**63)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SingleTaskGP(
                x,
                y,
                covar_module=get_matern_kernel_with_gamma_prior(dims + 1),
                outcome_transform=Standardize(m=1),
                input_transform=gp_model.ImputeInactive(space) if space.gates else None,
            )
            fit_gpytorch_mll(
                ExactMarginalLogLikelihood(model.likelihood, model),
                optimizer_kwargs={"options": {"maxiter": 100}},
            )
            model.eval()
            at_rung = x[[rung_at(budgets, t.budget) == rung for t in completed]]
            with torch.no_grad():
                best = float(model.posterior(at_rung).mean.max())
            acquisition = FixedFeatureAcquisitionFunction(
                PluginLogEI(model, best_f=best), d=dims + 1, columns=[dims], values=[level]
            )
            bounds = torch.stack([torch.zeros(dims), torch.ones(dims)]).to(torch.double)
            candidate, _ = optimize_acqf(
                acquisition, bounds=bounds, q=1, num_restarts=4, raw_samples=256
            )
    except Exception:  # a failed fit or optimization: fall back to the random stream
        return None
    return view.encoder.decode(candidate.detach().reshape(dims).numpy())


def _rung_counts(budgets: tuple[float, ...], trials: Sequence[TrialRecord]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for trial in trials:
        rung = rung_at(budgets, trial.budget)
        if rung is not None:
            counts[rung] = counts.get(rung, 0) + 1
    return counts


def _level(budget: float, low: float, high: float) -> float:
    return math.log(budget / low) / math.log(high / low)
