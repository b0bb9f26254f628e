"""Bayesian optimization with a Gaussian process (BoTorch): the default model-based policy.

Trial 0 is the centre of the space and trials ``1 .. n_init - 1`` follow the study's
scrambled Sobol' sequence: five trials whatever the dimension, as in Ax (``max(5, 2 d)``
Sobol' trials left a 10-parameter study with no model-based trial in its first 20).
After that each ask fits a GP to the completed trials (``gp_model``) and maximizes a
noisy, log-scaled acquisition over the unit cube:

- one objective: qLogNEI (noisy expected improvement). When it is asked for one
  suggestion with no trial running and no constraint, its Monte Carlo over the
  baseline is replaced by the plug-in noisy EI: analytic LogEI over the best
  posterior mean of the trials, on a cached predictive (``gp_predictive``), so
  the optimizer can afford more restarts and steps within the same time;
- several objectives: qLogNEHVI (noisy expected hypervolume improvement), with
  the ``ref_point`` option or, without it, a reference point just past the worst
  feasible trial of each objective (``pareto.infer_reference``). Each of its
  evaluations draws the joint posterior of the candidate and every baseline trial, so past
  ``noisy_hvi_points`` completed trials it gives way to the plug-in EHVI:
  qLogEHVI over the front of the trials' posterior means, which needs the
  candidate's posterior alone (at 220 trials, an ask went from 7 s to 3 s on a
  busy 2-core machine);
- more than ``MAX_HVI_OBJECTIVES`` objectives: qLogNParEGO, the noisy EI of a random
  Chebyshev scalarization whose weights are drawn from the ask's seeded stream. The
  hypervolume's box decompositions grow exponentially with the objectives (30 trials
  on a four-objective front make 301 boxes per sample and a 37 s ask; on five, 30 s
  even with BoTorch's approximate boxes); the scalarization costs what one objective does;
- outcome constraints are modelled as extra GP outputs and weight the
  acquisition by the probability of feasibility. One objective asked for one
  suggestion with no trial running gets the analytic form: LogEI over the best
  feasible posterior mean plus each constraint's log probability of holding, or,
  while no trial is feasible, those probabilities alone.

Running trials are pending points, so parallel workers get diverse
suggestions, and ``count > 1`` is a sequential-greedy q-batch. A suggestion never
repeats a configuration the study holds while a new one is left (``gp_fresh``).

Everything is a function of the stored trials and the study seed: the random
streams are seeded by (seed, trial number) and the fitted hyperparameters are
stored in each suggestion's ``meta``. The next fit starts from the stored ones
and runs only when the data has grown by ``refit_growth`` since the last fit;
in between, asks reuse them. A restarted server reads the same ``meta`` and so
suggests exactly what the old one would have.

Large studies: above ``max_points`` completed trials the model is local (in
the spirit of TuRBO): it is fitted to the ``max_points`` trials nearest the
incumbent (for several objectives, nearest the Pareto set), and the acquisition
searches the bounding box of those trials, widened by ``LOCAL_MARGIN``.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import gpytorch
import numpy as np
import numpy.typing as npt
import torch
from botorch.acquisition.analytic import (
    AnalyticAcquisitionFunction,
    LogConstrainedExpectedImprovement,
    LogExpectedImprovement,
    LogProbabilityOfFeasibility,
)
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.acquisition.multi_objective.logei import (
    qLogExpectedHypervolumeImprovement,
    qLogNoisyExpectedHypervolumeImprovement,
)
from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
from botorch.acquisition.multi_objective.parego import qLogNParEGO
from botorch.acquisition.objective import GenericMCObjective
from botorch.optim.initializers import gen_batch_initial_conditions
from botorch.optim.optimize import optimize_acqf
from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating
from botorch.sampling.normal import SobolQMCNormalSampler
from botorch.utils.multi_objective.box_decompositions.non_dominated import (
    NondominatedPartitioning,
)
from botorch.utils.multi_objective.pareto import is_non_dominated
from botorch.utils.sampling import sample_simplex
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from tunehub.schema import Decision, StudySpec, TrialState
from tunehub.server.analysis import pareto
from tunehub.server.analysis.outcomes import TAME_ABOVE, needs_taming, tamed
from tunehub.server.policies import gp_fresh, gp_model, gp_predictive
from tunehub.server.policies.base import (
    Policy,
    PolicySpecError,
    ReportRecord,
    StudyView,
    Suggestion,
    TrialRecord,
)
from tunehub.server.policies.sobol import sobol_points
from tunehub.server.policies.stopping import StoppingOptions, median_rule

LOCAL_MARGIN = 0.05
"""How far the local search box reaches beyond the trials it is fitted to (cube units)."""


def _no_kernel_compiles() -> None:
    """botorch compiles a C++ kernel for its hypervolume acquisitions on their first use
    when a compiler is installed: minutes of ``-march=native`` compiling inside the first
    multi-objective ask of every fresh install. Its PyTorch path computes the same thing."""
    from botorch.acquisition.multi_objective import logei as multi_logei

    if hasattr(multi_logei, "_load_attempted"):
        multi_logei._load_attempted = True


_no_kernel_compiles()

MC_SAMPLES = 64
MAX_HVI_OBJECTIVES = 4
"""Past this many objectives the acquisition is qLogNParEGO, not a hypervolume's."""
EVALUATION_ELEMENTS = 2**22
"""Numbers one batch of acquisition evaluations may hold in one of its tensors (32 MiB
of doubles): the batch of candidates evaluated together shrinks as the baseline, the
front's boxes and the objectives grow, so an ask's memory stays bounded."""


class GPOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_init: int | None = Field(
        default=5,
        ge=1,
        le=10_000,
        description="Initial design trials (the centre, then Sobol') before the model; null "
        "is max(5, 2 dims), the default that studies created before 5 recorded.",
    )
    init_center: bool = Field(
        default=True,
        description="Trial 0 is the centre of the space (log-scaled parameters at their "
        "geometric midpoint, categoricals at their middle choice) rather than a Sobol' point.",
    )
    ref_point: list[float] | None = Field(
        default=None,
        description="Hypervolume reference point, one value per objective in its own units "
        "(the worst value that still counts); when absent, just past the worst feasible trial.",
    )
    max_points: int = Field(default=300, ge=20, le=5_000)
    refit_growth: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Refit the hyperparameters once the completed trials grew by this fraction.",
    )
    fit_maxiter: int = Field(default=150, ge=1, le=5_000)
    num_restarts: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Acquisition optimizer restarts; default 8 for the analytic LogEI, "
        "4 for the Monte Carlo acquisitions, whose steps cost several times more.",
    )
    raw_samples: int = Field(default=1024, ge=8, le=8_192)
    noisy_hvi_points: int = Field(
        default=100,
        ge=0,
        le=5_000,
        description="Several objectives: up to this many completed trials the acquisition "
        "is the noisy EHVI; past it, the plug-in EHVI over the posterior-mean front, "
        "whose cost grows with the front, not with all the trials.",
    )
    acq_maxiter: int | None = Field(
        default=None,
        ge=1,
        le=2_000,
        description="Steps per restart; default 100 for the analytic LogEI, 30 for the "
        "Monte Carlo acquisitions.",
    )
    kernel: Literal["matern-gamma", "botorch"] = Field(
        default="matern-gamma",
        description="Kernel of spaces without categoricals: Matern-5/2 with Gamma priors, or "
        "BoTorch's default (RBF with dimension-scaled LogNormal lengthscale priors).",
    )
    output_warp: Literal["half-rank", "none"] = Field(
        default="half-rank",
        description="One objective: model it half-rank warped (the worse half mapped to normal "
        "quantiles), or standardized only.",
    )
    stopping: StoppingOptions = StoppingOptions()


@dataclass(frozen=True)
class _Data:
    """Training data in model form: objectives negated where minimized (BoTorch maximizes)."""

    ids: tuple[int, ...]
    x: Tensor  # (n, d), canonical
    y: Tensor  # (n, m + k): objectives (maximized), then warped slacks (<= 0 feasible)
    feasible: npt.NDArray[np.bool_]
    tamed: tuple[bool, ...] = ()
    """Which columns of ``y`` hold ``arcsinh`` of the values (``outcomes.tamed``)."""


@dataclass(frozen=True)
class _Fit:
    fit_n: int
    hypers: gp_model.Hypers


# Fitted hyperparameters by (study, training data, model structure, starting point, seed,
# budget). A fit is a deterministic function of that key, so a hit returns exactly what a
# refit would; the data's bytes, not only the trial ids, so another database's study 1
# in the same process never reads this one's.
_fit_cache: OrderedDict[tuple[Any, ...], gp_model.Hypers] = OrderedDict()
_FIT_CACHE_SIZE = 32


class GPPolicy(Policy):
    name = "gp"
    Options = GPOptions

    def suggest(self, view: StudyView, count: int) -> list[Suggestion]:
        with gp_model.MODEL_WORK:
            return self._suggest(view, count)

    def _suggest(self, view: StudyView, count: int) -> list[Suggestion]:
        options = self._options()
        encoder = view.encoder
        n_init = options.n_init if options.n_init is not None else max(5, 2 * encoder.dims)
        everything = view.trials()
        completed = [t for t in everything if t.state == TrialState.COMPLETED and t.values]
        if view.next_number < n_init or len(completed) < 2:
            return _initial(view, count, center=options.init_center)
        space = gp_model.ModelSpace(encoder)
        data = _training_data(view.spec, space, completed)
        if len(data.ids) < 2 or (len(set(data.y[:, 0].tolist())) < 2 and data.y.shape[1] == 1):
            return _sobol(view, count)  # nothing to model yet
        local = len(data.ids) > options.max_points
        if local:
            data = _nearest(data, _anchors(data, len(view.spec.objectives)), options.max_points)
        if len(view.spec.objectives) == 1 and options.output_warp == "half-rank":
            data = _warped(data)
        fit = _fit(view, options, space, data, everything, n_completed=len(completed))
        model = gp_model.build_model(space, data.x, data.y, options.kernel)
        if not gp_model.load_hypers(model, fit.hypers):  # stored for another kind of model
            fit = _fit(view, options, space, data, (), n_completed=len(completed))
            gp_model.load_hypers(model, fit.hypers)
        model.eval()
        pending = [_canonical(space, t.params) for t in everything if t.state == TrialState.RUNNING]
        seed = _stream_seed(view.seed, view.next_number)
        torch.manual_seed(seed)
        with gpytorch.settings.debug(False):  # shape checks only: the same answer, sooner
            acqf = _acquisition(view.spec, options, model, data, pending, seed, count)
            bounds = _bounds(space, data.x if local else None)
            points = _optimize(
                acqf,
                space,
                bounds,
                count,
                options,
                _incumbent(acqf, data, len(view.spec.objectives)),
            )
            chosen = gp_fresh.without_repeats(
                space.canonical(points),
                acqf=acqf,
                space=space,
                bounds=bounds,
                seen={gp_fresh.key(t.params) for t in everything},
                seed=seed,
                chunk=_batch_limits(acqf)["batch_limit"],
            )
        meta = {"model": "gp", "fit_n": fit.fit_n, "hypers": fit.hypers}
        if local:
            meta["local"] = True
        return [Suggestion(params=params, meta=meta) for params in chosen]

    @classmethod
    def check_spec(cls, options: BaseModel, spec: StudySpec) -> None:
        assert isinstance(options, GPOptions)
        given = options.ref_point
        if given is None:
            return
        if len(given) != len(spec.objectives):
            raise PolicySpecError(
                "policy.options.ref_point",
                f"ref_point has {len(given)} values for {len(spec.objectives)} objectives: "
                "give one per objective, in the order of objectives",
            )
        if not all(math.isfinite(v) and abs(v) <= TAME_ABOVE for v in given):
            raise PolicySpecError(
                "policy.options.ref_point",
                f"ref_point values must be finite numbers within +-{TAME_ABOVE:g}",
            )

    def decide(self, view: StudyView, trial: TrialRecord, report: ReportRecord) -> Decision:
        return median_rule(self._options().stopping, view, trial, report)

    def _options(self) -> GPOptions:
        assert isinstance(self.options, GPOptions)
        return self.options


def _sobol(view: StudyView, count: int) -> list[Suggestion]:
    return [
        Suggestion(params=s.params, meta={**s.meta, "model": "sobol"})
        for s in sobol_points(view, count)
    ]


def _initial(view: StudyView, count: int, *, center: bool) -> list[Suggestion]:
    """The initial design: Sobol' points, and with ``center`` the centre of the space as
    trial 0 (a study whose trial 0 was enqueued keeps that one). Ranges are usually drawn
    around sensible values, so the centre is a better first guess than a random point."""
    suggestions = _sobol(view, count)
    if not center or view.next_number != 0:
        return suggestions
    params = view.encoder.decode(np.full(view.encoder.dims, 0.5))
    return [Suggestion(params=params, meta={"model": "center"}), *suggestions[1:]]


def _stream_seed(seed: int, number: int) -> int:
    return int(np.random.SeedSequence([seed % 2**63, number]).generate_state(1)[0])


def _canonical(space: gp_model.ModelSpace, params: Any) -> Tensor:
    return gp_model.model_inputs(space, space.encoder.encode(params)[None, :])[0]


def _training_data(
    spec: StudySpec, space: gp_model.ModelSpace, completed: Sequence[TrialRecord]
) -> _Data:
    signs = pareto.signs(spec)
    names = [o.name for o in spec.objectives]
    rows = []
    ids = []
    kept: list[TrialRecord] = []
    for t in completed:
        assert t.values is not None
        objectives = [-s * t.values[n] for s, n in zip(signs, names)]
        slacks = []
        for c in spec.constraints:
            value = (t.metrics or {}).get(c.name)
            slacks.append(c.slack(float(value)) if isinstance(value, int | float) else math.inf)
        if not all(math.isfinite(v) for v in objectives + slacks):
            continue
        rows.append(objectives + slacks)
        ids.append(t.id)
        kept.append(t)
    if not rows:
        return _Data(
            (), torch.zeros(0, space.dims, dtype=torch.double), torch.zeros(0, 1), np.zeros(0, bool)
        )
    columns = np.asarray(rows, dtype=float).reshape(len(rows), len(names) + len(spec.constraints))
    modelled = [tamed(c) for c in columns.T]
    modelled[len(names) :] = [gp_model.slack_warp(c) for c in modelled[len(names) :]]
    y = torch.tensor(np.stack(modelled, axis=1), dtype=torch.double)
    feasible = (y[:, len(names) :] <= 0).all(dim=1).numpy() if spec.constraints else None
    return _Data(
        ids=tuple(ids),
        x=gp_model.model_inputs(space, space.encoder.encode_many([t.params for t in kept])),
        y=y,
        feasible=feasible if feasible is not None else np.ones(len(rows), dtype=bool),
        tamed=tuple(needs_taming(c) for c in columns.T),
    )


def _warped(data: _Data) -> _Data:
    """One objective: the model sees it half-rank warped (``gp_model.half_rank_warp``)."""
    y = data.y.clone()
    y[:, 0] = torch.as_tensor(gp_model.half_rank_warp(y[:, 0].numpy()), dtype=y.dtype)
    return _Data(ids=data.ids, x=data.x, y=y, feasible=data.feasible, tamed=data.tamed)


def _incumbent(acqf: Any, data: _Data, n_objectives: int) -> Tensor | None:
    """One objective: the feasible trial the model thinks best (its posterior mean)."""
    if n_objectives != 1 or not data.feasible.any():
        return None
    feasible = torch.as_tensor(np.flatnonzero(data.feasible))
    return data.x[feasible[_posterior_mean(acqf.model, data.x[feasible], acqf).argmax()]]


def _posterior_mean(model: Any, x: Tensor, acqf: Any = None) -> Tensor:
    """The first output's posterior mean at ``x``, from the cached predictive when there is one."""
    with torch.no_grad():
        if isinstance(acqf, gp_predictive.PluginLogEI):
            return acqf.predictive(x)[0]
        mean: Tensor = model.posterior(x).mean[..., 0]
        return mean


def _anchors(data: _Data, n_objectives: int) -> Tensor:
    """The points a local model centres on: the incumbent, or the Pareto set."""
    objectives = data.y[:, :n_objectives]
    if data.feasible.any():
        candidates = torch.as_tensor(np.flatnonzero(data.feasible))
    else:  # least violation first
        violation = data.y[:, n_objectives:].clamp(min=0).sum(dim=1)
        candidates = violation.argmin().reshape(1)
    if n_objectives == 1:
        best = candidates[objectives[candidates, 0].argmax()]
        return data.x[best].reshape(1, -1)
    mask = pareto.pareto_mask(-objectives[candidates].numpy())
    return data.x[candidates[torch.as_tensor(mask)]]


def _nearest(data: _Data, anchors: Tensor, keep: int) -> _Data:
    distance = torch.cdist(data.x, anchors).min(dim=1).values
    order = np.lexsort((np.arange(len(distance)), distance.numpy()))[:keep]
    chosen = torch.as_tensor(np.sort(order))
    return _Data(
        ids=tuple(data.ids[i] for i in chosen.tolist()),
        x=data.x[chosen],
        y=data.y[chosen],
        feasible=data.feasible[chosen.numpy()],
        tamed=data.tamed,
    )


def _fit(
    view: StudyView,
    options: GPOptions,
    space: gp_model.ModelSpace,
    data: _Data,
    trials: Sequence[TrialRecord],
    *,
    n_completed: int,
) -> _Fit:
    """The hyperparameters to use: the stored ones, or a warm-started refit when due."""
    stored = max(
        (t for t in trials if t.meta and t.meta.get("model") == "gp" and "hypers" in t.meta),
        key=lambda t: (int(t.meta["fit_n"]), t.number) if t.meta else (0, 0),
        default=None,
    )
    start: gp_model.Hypers | None = None
    fresh = True  # also fit from the priors' default, not only from the last fit
    if stored is not None and stored.meta is not None:
        start = stored.meta["hypers"]
        fit_n = int(stored.meta["fit_n"])
        due, fresh = gp_model.refit_schedule(n_completed, fit_n, options.refit_growth)
        if not due:
            return _Fit(fit_n, start)
    fit_seed = _stream_seed(view.seed, 2**40 + n_completed)
    start_key = hash(json.dumps(start, sort_keys=True))
    data_key = hashlib.sha256(data.x.numpy().tobytes() + data.y.numpy().tobytes()).hexdigest()
    structure = (
        space.dims,
        tuple(space.cat_dims),
        tuple(space.discrete_dims),
        space.gates,
        options.kernel,
    )
    key = (view.study_id, data_key, structure, start_key, fresh, fit_seed, options.fit_maxiter)
    hypers = _fit_cache.get(key)
    if hypers is None:
        torch.manual_seed(fit_seed)
        model = gp_model.build_model(space, data.x, data.y, options.kernel)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hypers = gp_model.fit(model, start, maxiter=options.fit_maxiter, fresh=fresh)
        _fit_cache[key] = hypers
        while len(_fit_cache) > _FIT_CACHE_SIZE:
            _fit_cache.popitem(last=False)
    return _Fit(n_completed, hypers)


def _acquisition(
    spec: StudySpec,
    options: GPOptions,
    model: Any,
    data: _Data,
    pending: list[Tensor],
    seed: int,
    count: int,
) -> Any:
    m = len(spec.objectives)
    k = len(spec.constraints)
    if m == 1 and not k and not pending and count == 1:
        # One suggestion, nothing running, nothing to be feasible about: the noisy EI's
        # Monte Carlo over the baseline adds little to EI over the posterior mean's best
        # (the plug-in noisy EI), which is analytic and several times cheaper per step.
        try:
            predictive = gp_predictive.CachedPredictive(model)
        except gp_predictive.UnsupportedModel:
            return LogExpectedImprovement(model=model, best_f=_posterior_mean(model, data.x).max())
        with torch.no_grad():
            best = predictive(data.x)[0].max()
        return gp_predictive.PluginLogEI(model, best, predictive)
    if m == 1 and k and not pending and count == 1:
        return _constrained_analytic(model, data, k)
    sampler = SobolQMCNormalSampler(sample_shape=torch.Size([MC_SAMPLES]), seed=seed)
    constraints: list[Callable[[Tensor], Tensor]] | None = [
        _slack_of(m + i) for i in range(k)
    ] or None
    x_pending = torch.stack(pending) if pending else None
    if m == 1:
        objective = GenericMCObjective(_first_output) if k else None
        return qLogNoisyExpectedImprovement(
            model=model,
            X_baseline=data.x,
            sampler=sampler,
            objective=objective,
            constraints=constraints,
            X_pending=x_pending,
            prune_baseline=True,
        )
    if m > MAX_HVI_OBJECTIVES:
        weights = sample_simplex(m, seed=seed, dtype=data.x.dtype).reshape(-1)
        return qLogNParEGO(
            model=model,
            X_baseline=data.x,
            scalarization_weights=weights,
            sampler=sampler,
            objective=IdentityMCMultiOutputObjective(outcomes=list(range(m))),
            constraints=constraints,
            X_pending=x_pending,
            prune_baseline=True,
        )
    signs = pareto.signs(spec)
    if options.ref_point is not None:
        reference = -signs * np.asarray(options.ref_point, dtype=float)
        for j, squashed in enumerate(data.tamed[:m]):  # in the model's units
            if squashed:
                reference[j] = np.arcsinh(reference[j])
    else:
        values = -data.y[:, :m].numpy()
        usable = values[data.feasible] if data.feasible.any() else values
        # Past the worst feasible trial, not past the front's worst: a front found at one
        # end first (ZDT1 after a lucky x1 = 0) is narrow, a reference point next to it
        # leaves nothing to gain beyond it, and the search stayed at that end for 30
        # trials. The price: more weight on the front's extremes (DTLZ2 and BraninCurrin,
        # scored against a reference point just past their true fronts, lost some).
        reference = -pareto.infer_reference(usable)
    if len(data.ids) > options.noisy_hvi_points and data.feasible.any():
        return qLogExpectedHypervolumeImprovement(
            model=model,
            ref_point=reference.tolist(),
            partitioning=_mean_front(model, data, m, reference),
            sampler=sampler,
            objective=IdentityMCMultiOutputObjective(outcomes=list(range(m))),
            constraints=constraints,
            X_pending=x_pending,
        )
    return qLogNoisyExpectedHypervolumeImprovement(
        model=model,
        ref_point=reference.tolist(),
        X_baseline=data.x,
        sampler=sampler,
        objective=IdentityMCMultiOutputObjective(outcomes=list(range(m))),
        constraints=constraints,
        X_pending=x_pending,
        prune_baseline=True,
    )


def _constrained_analytic(model: Any, data: _Data, k: int) -> AnalyticAcquisitionFunction:
    """One objective, outcome constraints, one suggestion, nothing running.

    As without constraints, the noisy EI's Monte Carlo over the baseline adds little
    to EI over the best feasible posterior mean (the plug-in) and costs several times
    more per step, so the analytic form gets more restarts and steps. While no trial is
    feasible there is no incumbent to improve on (BoTorch warns as much) and
    feasibility is the only goal.
    """
    bounds: dict[int, tuple[float | None, float | None]] = {1 + i: (None, 0.0) for i in range(k)}
    if not data.feasible.any():
        return LogProbabilityOfFeasibility(model=model, constraints=bounds)
    feasible = data.x[torch.as_tensor(np.flatnonzero(data.feasible))]
    best = _posterior_mean(model, feasible).max()
    return LogConstrainedExpectedImprovement(
        model=model, best_f=best, objective_index=0, constraints=bounds
    )


def _mean_front(
    model: Any, data: _Data, m: int, reference: npt.NDArray[np.float64]
) -> NondominatedPartitioning:
    """The region the feasible trials' posterior means dominate, cut into boxes.

    The means, not the observed values, so one lucky noisy result does not set the
    bar the candidates have to beat.
    """
    feasible = torch.as_tensor(np.flatnonzero(data.feasible))
    with torch.no_grad():
        means = model.posterior(data.x[feasible]).mean[..., :m]
    ref = torch.as_tensor(reference, dtype=means.dtype)
    return NondominatedPartitioning(ref_point=ref, Y=means[is_non_dominated(means)])


def _first_output(samples: Tensor, X: Tensor | None = None) -> Tensor:
    return samples[..., 0]


class _slack_of:
    """Constraint callable for BoTorch: output ``index`` is a slack, feasible when <= 0."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(self, samples: Tensor) -> Tensor:
        return samples[..., self.index]


def _bounds(space: gp_model.ModelSpace, local_x: Tensor | None) -> Tensor:
    bounds = torch.zeros(2, space.dims, dtype=torch.double)
    bounds[1] = 1.0
    fixed = {**space.cat_dims, **space.discrete_dims}
    for i, values in fixed.items():  # the mixed optimizer wants these bounds exactly
        bounds[0, i], bounds[1, i] = min(values), max(values)
    if local_x is None:
        return bounds
    for i in range(space.dims):
        if i in fixed:
            continue
        active = local_x[:, i][local_x[:, i] != gp_model.INACTIVE]
        if len(active):
            bounds[0, i] = max(0.0, float(active.min()) - LOCAL_MARGIN)
            bounds[1, i] = min(1.0, float(active.max()) + LOCAL_MARGIN)
    return bounds


def _optimize(
    acqf: Any,
    space: gp_model.ModelSpace,
    bounds: Tensor,
    count: int,
    options: GPOptions,
    incumbent: Tensor | None,
) -> Tensor:
    analytic = isinstance(acqf, AnalyticAcquisitionFunction)
    restarts = options.num_restarts or (8 if analytic else 4)
    maxiter = options.acq_maxiter or (100 if analytic else 30)
    limits = _batch_limits(acqf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if space.cat_dims or space.discrete_dims:
            cat_dims = _categorical_candidates(space, incumbent)
            bounds = bounds.clone()
            for i, values in cat_dims.items():
                bounds[0, i], bounds[1, i] = min(values), max(values)
            candidates, _ = optimize_acqf_mixed_alternating(
                acqf,
                bounds=bounds,
                discrete_dims={i: v for i, v in space.discrete_dims.items()},
                cat_dims=cat_dims,
                q=count,
                raw_samples=options.raw_samples,
                num_restarts=restarts,
                options={"maxiter_continuous": 16, "maxiter_alternating": 16, **limits},
            )
        else:
            initial = None
            if count == 1 and incumbent is not None:
                initial = _starts_with(
                    acqf, bounds, incumbent, restarts, options.raw_samples, limits
                )
            candidates, _ = optimize_acqf(
                acqf,
                bounds=bounds,
                q=count,
                num_restarts=restarts,
                raw_samples=options.raw_samples,
                batch_initial_conditions=initial,
                sequential=count > 1,
                options={"maxiter": maxiter, **limits},
            )
    return candidates.detach().reshape(count, space.dims)


def _batch_limits(acqf: Any) -> dict[str, int]:
    """How many candidates the optimizer evaluates at once: up to 64 while ascending
    and 2,048 while screening raw samples, fewer where one evaluation is large.

    A Monte Carlo acquisition holds, per candidate, a sample of every baseline trial's
    outputs, and the hypervolume ones a sample per box of the front: with 2,048
    candidates at once, 30 trials on a four-objective front asked for 13 GB.
    """
    per_candidate = 1
    baseline = getattr(acqf, "X_baseline", None)
    if isinstance(baseline, Tensor):
        per_candidate += MC_SAMPLES * (baseline.shape[-2] + 1) * acqf.model.num_outputs
    cells = getattr(acqf, "cell_lower_bounds", None)
    if isinstance(cells, Tensor):
        # the noisy EHVI keeps boxes per sample already; the plug-in one samples per box
        per_candidate += cells.numel() * (1 if isinstance(baseline, Tensor) else MC_SAMPLES)
    fits = max(1, EVALUATION_ELEMENTS // per_candidate)
    return {"batch_limit": min(64, fits), "init_batch_limit": min(2_048, fits)}


MAX_CATEGORICAL_CANDIDATES = 64
"""Choices of one categorical the acquisition optimizer considers in one ask."""


def _categorical_candidates(
    space: gp_model.ModelSpace, incumbent: Tensor | None
) -> dict[int, list[float]]:
    """Each categorical's choices, or for one with more than ``MAX_CATEGORICAL_CANDIDATES``
    a sample of them (drawn from the ask's seeded stream) plus the incumbent's: the
    optimizer's work per step grows with the choices it walks, and a space may hold
    many categoricals of 10,000 choices. Later asks draw other samples."""
    out: dict[int, list[float]] = {}
    for i, centres in space.cat_dims.items():
        if len(centres) <= MAX_CATEGORICAL_CANDIDATES:
            out[i] = centres
            continue
        picked = {centres[j] for j in torch.randperm(len(centres))[:MAX_CATEGORICAL_CANDIDATES]}
        if incumbent is not None and float(incumbent[i]) in set(centres):
            picked.add(float(incumbent[i]))
        out[i] = sorted(picked)
    return out


def _starts_with(
    acqf: Any,
    bounds: Tensor,
    incumbent: Tensor,
    restarts: int,
    raw_samples: int,
    limits: dict[str, int],
) -> Tensor:
    """BoTorch's restarts (Boltzmann-picked from raw samples), the last one moved to the incumbent.

    A local ascent from the incumbent takes the fine steps next to it that restarts
    drawn from a space-filling design rarely reach, without crowding out the others.
    """
    starts = gen_batch_initial_conditions(
        acqf,
        bounds,
        q=1,
        num_restarts=restarts,
        raw_samples=raw_samples,
        options=dict(limits),
    )
    here = torch.minimum(torch.maximum(incumbent, bounds[0]), bounds[1]).reshape(1, 1, -1)
    return torch.cat([starts[:-1], here.to(starts)]) if len(starts) > 1 else here.to(starts)
