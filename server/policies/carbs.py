"""``carbs``: cost-aware Pareto search, the best objective at every cost (CARBS).

After Fetterman et al. 2023, "Tune As You Scale". The policy keeps the Pareto front
of (cost, objective) over completed trials and searches around its members:

1. candidates perturb a front member in search coordinates (``carbs_space``: log
   for scales, logit for fractions) by a Gaussian of the current radius, and flip
   each categorical with a probability that grows with it;
2. three GPs score them: the objective, the log cost, and success (completed 1,
   failed 0), so configurations that crash or time out are learnt from;
3. the acquisition is the expected improvement over the front at the candidate's
   predicted cost, summed over the stretch of log cost it would improve: the
   expected gain in the area the front dominates (hypervolume in log cost and
   objective), times the probability of success. Plain improvement at one cost
   would pull the search to the cheap end, where the front is steep and small
   steps gain the most; weighing each gain by how much of the front it lifts keeps
   the search spread over every cost. Candidates predicted to cost more than the
   study's ``cost.max``, or more than ``reach`` times all it has spent, are
   dropped; that bound is also where the area ends, so the front climbs to higher
   costs as fast as the study spends;
4. several suggestions in one ask, and trials still running, push later picks
   away from them (a local penalty), so a batch spreads out.

The radius adapts like a trust region: it doubles after a run of suggestions
that landed on the front and halves after a longer run that did not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import norm

from tunehub.schema import Direction, StudySpec, TrialState
from tunehub.server.analysis.outcomes import tamed
from tunehub.server.analysis.pareto import staircase
from tunehub.server.policies import gp_model
from tunehub.server.policies.base import (
    Policy,
    PolicySpecError,
    StudyView,
    Suggestion,
    TrialRecord,
)
from tunehub.server.policies.carbs_space import SearchSpace
from tunehub.server.space.params import ParamError, check_params
from tunehub.space import CategoricalParam, ParamValue

Array = npt.NDArray[np.float64]

MIN_RADIUS = 0.05
MAX_RADIUS = 2.0
WIN_STREAK = 3
"""Suggestions in a row that land on the front before the radius doubles."""
LOSS_STREAK = 8
"""Suggestions in a row that do not, before it halves (failures count as misses)."""
MAX_FLIP = 0.5
FIT_STEPS = 150
REFIT_GROWTH = 0.2
"""Hyperparameters are refitted once the completed trials grow by this fraction."""


class CarbsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    center: dict[str, ParamValue] = Field(
        default_factory=dict,
        description="Where the search starts (CARBS is a local search: start cheap and "
        "sensible). Parameters left out start at the middle of their search scale; "
        "categoricals at their first choice.",
    )
    initial_trials: int = Field(
        default=5, ge=1, le=100, description="Trials around the center before the models lead."
    )
    radius: float = Field(
        default=0.5,
        gt=0,
        le=MAX_RADIUS,
        description="Starting search radius in search units (0.5 of ln: about 1.6-fold).",
    )
    candidates: int = Field(default=512, ge=16, le=20_000)
    reach: float | None = Field(
        default=1.0,
        gt=0.0,
        description="A suggestion's predicted cost is at most this multiple of all the cost "
        "the study has spent, so the front climbs to higher costs as fast as the study "
        "spends (a doubling search) and a budget is not gone on a few of the dearest "
        "trials. null: no limit but the study's cost.max.",
    )
    max_points: int = Field(
        default=300,
        ge=20,
        le=5_000,
        description="Most trials each model is fitted on: above it, the front and the "
        "trials nearest to it (the search only looks there), so an ask stays fast.",
    )


@dataclass(frozen=True)
class _Front:
    """The (log cost, objective) Pareto front, cheapest first; the objective is maximized."""

    log_cost: Array
    value: Array
    members: tuple[TrialRecord, ...]
    floor: float
    """The worst objective seen: what the front is worth below its cheapest member."""

    def gain(self, mean: Array, sd: Array, log_cost: Array, top: float) -> Array:
        """Expected growth of the area the front dominates, up to log cost ``top``.

        A result ``Y`` at log cost ``c`` lifts every stretch of the front at or above
        ``c`` whose value it beats, by the difference times the stretch's width: the
        expectation is the expected improvement over each stretch's value, weighted by
        the width of its part above ``c``.
        """
        edges = np.concatenate([[-np.inf], self.log_cost, [max(top, float(self.log_cost[-1]))]])
        values = np.concatenate([[self.floor], self.value])
        low = np.maximum(edges[None, :-1], log_cost[:, None])
        high = np.minimum(edges[None, 1:], top)
        width = np.clip(high - low, 0.0, None)
        improvement = expected_improvement(mean[:, None], sd[:, None], values[None, :])
        return np.asarray((width * improvement).sum(axis=1), dtype=float)


class CarbsPolicy(Policy):
    name = "carbs"
    Options = CarbsOptions

    @classmethod
    def check_spec(cls, options: BaseModel, spec: StudySpec) -> None:
        assert isinstance(options, CarbsOptions)
        if len(spec.objectives) != 1:
            raise PolicySpecError(
                "objectives",
                f"policy 'carbs' trades one objective against cost, got {len(spec.objectives)} "
                "objectives: keep one, and tell the cost with each result",
            )
        for name, value in options.center.items():
            if name not in spec.space:
                raise PolicySpecError(
                    f"policy.options.center.{name}",
                    f"center names {name!r}, which is not a parameter: use one of "
                    f"{sorted(spec.space)}",
                )
            try:
                check_params({name: spec.space[name]}, {name: value})
            except ParamError as error:
                raise PolicySpecError(f"policy.options.center.{name}", str(error)) from error

    def suggest(self, view: StudyView, count: int) -> list[Suggestion]:
        with gp_model.MODEL_WORK:
            return self._suggest(view, count)

    def _options(self) -> CarbsOptions:
        assert isinstance(self.options, CarbsOptions)
        return self.options

    def _suggest(self, view: StudyView, count: int) -> list[Suggestion]:
        options = self._options()
        search = SearchSpace(view.spec.space)
        trials = view.trials()
        sign = 1.0 if view.spec.objectives[0].direction == Direction.MAXIMIZE else -1.0
        name = view.spec.objectives[0].name
        done = [t for t in trials if _value(t, name) is not None]
        radius = adapted_radius(trials, name, sign, options.radius)
        rng = np.random.default_rng(np.random.SeedSequence([view.seed, view.next_number]))
        if len(trials) < options.initial_trials or len(done) < 2:
            return [
                self._initial(view, search, rng, view.next_number + k, radius) for k in range(count)
            ]
        return _Search(view, options, search, done, sign, radius, rng).pick(count)

    def _initial(
        self, view: StudyView, search: SearchSpace, rng: np.random.Generator, number: int, r: float
    ) -> Suggestion:
        center = _center(view.spec, search, self._options())
        if number == 0:
            return Suggestion(params=center, meta={"carbs": "initial", "radius": r})
        params = perturb(search, center, r, rng)
        return Suggestion(params=params, meta={"carbs": "initial", "radius": r})


class _Search:
    """One ask's model-based search: fit once, then pick candidates one by one."""

    def __init__(
        self,
        view: StudyView,
        options: CarbsOptions,
        search: SearchSpace,
        done: Sequence[TrialRecord],
        sign: float,
        radius: float,
        rng: np.random.Generator,
    ) -> None:
        self.options, self.search = options, search
        self.radius, self.rng = radius, rng
        name = view.spec.objectives[0].name
        self.model_space = gp_model.ModelSpace(view.encoder)
        trials = view.trials()
        # The objective model sees maximized, half-rank warped values; the front is kept in
        # the same units, so that improvements over it are what the model predicts.
        y = gp_model.half_rank_warp(
            tamed(np.array([sign * (_value(t, name) or 0.0) for t in done]))
        )
        previous, fit_n = _last_fit(trials)
        self.due, fresh = gp_model.refit_schedule(len(done), fit_n, REFIT_GROWTH)
        self.fit_n = len(done) if self.due else fit_n
        torch.manual_seed(view.seed % 2**63)  # the fit's retries draw random restarts
        self.hypers: dict[str, gp_model.Hypers] = {}
        costed = [i for i, t in enumerate(done) if t.cost is not None and t.cost > 0]
        modelled_cost = len({done[i].cost for i in costed}) >= 2
        if modelled_cost:
            logs = np.log([done[i].cost or 1.0 for i in costed])
        else:  # no cost to model: the front is the best trial, at cost 0
            costed, logs = list(range(len(done))), np.zeros(len(done))
        self.front = _front([done[i] for i in costed], logs, y[costed], floor=float(y.min()))
        centres = np.nan_to_num([search.to_search(t.params) for t in self.front.members])
        keep = _nearest(search, done, centres, options.max_points)
        self.fit_points = len(keep)
        self.objective = self._fit("objective", [done[i] for i in keep], y[keep], previous, fresh)
        self.cost = None
        if modelled_cost:
            kept = set(keep)
            fit = [(done[i], log) for i, log in zip(costed, logs) if i in kept]
            cost_y = np.array([log for _, log in fit])
            self.cost = self._fit("cost", [t for t, _ in fit], cost_y, previous, fresh)
        failed = [t for t in trials if t.state == TrialState.FAILED]
        failed = [failed[i] for i in _nearest(search, failed, centres, options.max_points // 2)]
        self.success = None
        if failed:
            ok = np.concatenate([np.ones(len(keep)), np.zeros(len(failed))])
            kept_done = [done[i] for i in keep]
            self.success = self._fit("success", [*kept_done, *failed], ok, previous, fresh)
        self.ceiling = (
            math.log(view.spec.cost.max)
            if view.spec.cost is not None and view.spec.cost.max is not None
            else math.inf
        )
        spent = sum(t.cost for t in trials if t.cost is not None and t.cost > 0)
        if options.reach is not None and spent > 0:
            self.ceiling = min(self.ceiling, math.log(options.reach * spent))
        running = (TrialState.RUNNING, TrialState.PENDING)
        self.taken = [search.to_search(t.params) for t in trials if t.state in running]

    def _fit(
        self,
        name: str,
        trials: Sequence[TrialRecord],
        y: Array,
        previous: dict[str, Any],
        fresh: bool,
    ) -> Any:
        """A GP of ``y``, fitted from the last ask's hyperparameters when they fit it."""
        x = _inputs(self.model_space, [t.params for t in trials])
        target = torch.as_tensor(np.asarray(y, dtype=float), dtype=torch.double).reshape(-1, 1)
        model = gp_model.build_model(self.model_space, x, target)
        start = previous.get(name)
        if start is not None and not gp_model.load_hypers(model, start):
            start = None  # another kind of model (a categorical added, say): fit afresh
        if start is not None and not self.due:
            self.hypers[name] = start
            model.eval()
            return model
        self.hypers[name] = gp_model.fit(model, start, maxiter=FIT_STEPS, fresh=fresh)
        return model

    def pick(self, count: int) -> list[Suggestion]:
        out = []
        for _ in range(count):
            out.append(self._one())
        return out

    def _one(self) -> Suggestion:
        centers = self.front.members
        picks = self.rng.integers(len(centers), size=self.options.candidates)
        configs = [perturb(self.search, centers[i].params, self.radius, self.rng) for i in picks]
        x = _inputs(self.model_space, configs)
        with torch.no_grad():
            mean, sd = _predict(self.objective, x)
            log_cost = _predict(self.cost, x)[0] if self.cost is not None else np.zeros(len(x))
            success = (
                _success_bound(*_predict(self.success, x))
                if self.success is not None
                else np.ones(len(x))
            )
        if self.cost is not None:
            top = self.ceiling if math.isfinite(self.ceiling) else _open_top(self.front, log_cost)
            gain = self.front.gain(mean, sd, log_cost, top)
        else:  # one cost for all: improvement over the best
            gain = expected_improvement(mean, sd, self.front.value[-1:])
        gain *= success
        gain *= self._penalty(configs)
        affordable = log_cost <= self.ceiling
        if affordable.any():
            gain = np.where(affordable, gain, -np.inf)
            best = int(np.argmax(gain))
        else:
            best = int(np.argmin(log_cost))
        chosen = configs[best]
        self.taken.append(self.search.to_search(chosen))
        meta: dict[str, Any] = {
            "carbs": "search",
            "radius": self.radius,
            "center": centers[picks[best]].number,
            "predicted_cost": float(math.exp(log_cost[best])) if self.cost is not None else None,
            "success": float(success[best]),
            "hypers": self.hypers,
            "fit_n": self.fit_n,
            "fit_points": self.fit_points,
        }
        return Suggestion(params=chosen, meta=meta)

    def _penalty(self, configs: Sequence[dict[str, ParamValue]]) -> Array:
        """Near zero next to a running or already chosen configuration, one far from them."""
        out = np.ones(len(configs))
        if not self.taken:
            return out
        z = np.nan_to_num(np.array([self.search.to_search(c) for c in configs]))
        for taken in self.taken:
            d2 = np.sum((z - np.nan_to_num(taken)) ** 2, axis=1)
            out *= 1.0 - np.exp(-d2 / (2 * (self.radius / 2) ** 2))
        return out


def _success_bound(mean: Array, sd: Array) -> Array:
    """A cautious probability of success: the success model's mean less one deviation.

    Far from every trial the model falls back to the study's success rate, which says
    nothing of the region: past a failure (a higher learning rate, a bigger batch) is
    seldom safer than at it. Counting the model's doubt keeps the search from stepping
    into such regions on the base rate alone; near trials the doubt is small.
    """
    return np.asarray(np.clip(mean - sd, 0.01, 1.0), dtype=float)


def expected_improvement(mean: Array, sd: Array, threshold: Array) -> Array:
    """E[max(Y - threshold, 0)] for Y ~ N(mean, sd^2) (maximized)."""
    sd = np.maximum(sd, 1e-9)
    u = (mean - threshold) / sd
    return np.asarray(sd * (u * norm.cdf(u) + norm.pdf(u)), dtype=float)


def perturb(
    search: SearchSpace,
    params: Mapping[str, ParamValue],
    radius: float,
    rng: np.random.Generator,
) -> dict[str, ParamValue]:
    """A configuration a Gaussian step of ``radius`` away, categoricals flipped sometimes."""
    z = search.to_search(params)
    middle = (search.low + search.high) / 2
    z = np.where(np.isfinite(z), z, middle) + radius * rng.standard_normal(search.dims)
    flip = min(MAX_FLIP, 1.0 - math.exp(-radius / 2))
    categories: dict[str, ParamValue] = {}
    for name in search.categorical:
        spec = search.space[name]
        assert isinstance(spec, CategoricalParam)
        current = params.get(name, spec.choices[0])
        if len(spec.choices) > 1 and rng.random() < flip:
            others = [c for c in spec.choices if not (type(c) is type(current) and c == current)]
            current = others[int(rng.integers(len(others)))]
        categories[name] = current
    return search.from_search(z, categories)


def adapted_radius(trials: Sequence[TrialRecord], name: str, sign: float, start: float) -> float:
    """The radius after replaying the study: doubled after front hits, halved after misses."""
    radius, wins, losses = start, 0, 0
    seen: list[tuple[float, float]] = []  # (cost, maximized objective) of earlier results
    for t in trials:
        value = _value(t, name)
        searched = (t.meta or {}).get("carbs") == "search"
        if t.state not in (TrialState.COMPLETED, TrialState.FAILED) or (
            t.state == TrialState.COMPLETED and value is None
        ):
            continue
        hit = False
        if value is not None:
            cost = t.cost if t.cost is not None else 0.0
            y = sign * value
            hit = not any(c <= cost and v >= y for c, v in seen)
            seen.append((cost, y))
        if not searched:
            continue
        wins, losses = (wins + 1, 0) if hit else (0, losses + 1)
        if wins >= WIN_STREAK:
            radius, wins = min(MAX_RADIUS, radius * 2), 0
        elif losses >= LOSS_STREAK:
            radius, losses = max(MIN_RADIUS, radius / 2), 0
    return radius


def _value(trial: TrialRecord, name: str) -> float | None:
    if trial.state != TrialState.COMPLETED or not trial.values:
        return None
    value = trial.values.get(name)
    return float(value) if value is not None and math.isfinite(value) else None


def _center(spec: StudySpec, search: SearchSpace, options: CarbsOptions) -> dict[str, ParamValue]:
    categories: dict[str, ParamValue] = {}
    for name in search.categorical:
        choice = spec.space[name]
        assert isinstance(choice, CategoricalParam)
        categories[name] = options.center.get(name, choice.choices[0])
    z = (search.low + search.high) / 2
    given = search.to_search(options.center)
    z = np.where(np.isfinite(given), given, z)
    return search.from_search(z, categories)


def _front(trials: Sequence[TrialRecord], log_cost: Array, value: Array, floor: float) -> _Front:
    """Members cheapest first, each better than every cheaper one (ties: the earlier)."""
    members = staircase(log_cost.tolist(), (-value).tolist())
    return _Front(log_cost[members], value[members], tuple(trials[i] for i in members), floor)


def _open_top(front: _Front, log_cost: Array) -> float:
    """Where the area ends without a ceiling or reach: a doubling past the dearest point."""
    return max(float(front.log_cost[-1]), float(log_cost.max())) + math.log(2.0)


def _inputs(space: gp_model.ModelSpace, configs: Sequence[Any]) -> torch.Tensor:
    return gp_model.model_inputs(space, space.encoder.encode_many(list(configs)))


def _nearest(
    search: SearchSpace, trials: Sequence[TrialRecord], centres: Array, limit: int
) -> list[int]:
    """Indices of at most ``limit`` trials, those closest to any centre first (in order)."""
    if len(trials) <= limit:
        return list(range(len(trials)))
    z = np.nan_to_num(np.array([search.to_search(t.params) for t in trials]))
    distance = np.min(np.linalg.norm(z[:, None, :] - centres[None, :, :], axis=2), axis=1)
    return sorted(np.argsort(distance, kind="stable")[:limit].tolist())


def _last_fit(trials: Sequence[TrialRecord]) -> tuple[dict[str, Any], int]:
    """The hyperparameters the latest model-based suggestion stored, and the data size they
    were fitted on (0 when there are none)."""
    for trial in reversed(trials):
        meta = trial.meta or {}
        if isinstance(meta.get("hypers"), dict) and isinstance(meta.get("fit_n"), int):
            return meta["hypers"], meta["fit_n"]
    return {}, 0


def _predict(model: Any, x: torch.Tensor) -> tuple[Array, Array]:
    posterior = model.posterior(x)
    mean = posterior.mean.reshape(-1).numpy()
    sd = posterior.variance.clamp_min(0.0).sqrt().reshape(-1).numpy()
    return mean, sd
