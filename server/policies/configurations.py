"""Algorithm-configuration bookkeeping: each configuration's runs on the train instances.

Every AC policy sees a study as configurations, each run on some instances. This
module groups the trials that way (a configuration is its parameters, canonically
serialized), scores each run as a cost to minimize, and draws new configurations
either at random or around the incumbent. Trials on test instances are left out:
they evaluate a configuration, they never steer the search.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tunehub.schema import Direction, StudySpec, TrialState
from tunehub.server.policies.base import PolicySpecError, StudyView, TrialRecord
from tunehub.space import ParamValue


def config_key(params: Mapping[str, ParamValue]) -> str:
    return json.dumps(dict(params), sort_keys=True, separators=(",", ":"))


@dataclass
class Configuration:
    """One configuration's runs: costs by instance (minimized), and instances in flight.

    A run cut off at a cap below the study's cutoff (adaptive capping) is not a cost:
    it only says the runtime is above the cap. ``censored`` keeps that bound, until a
    run on the same instance gives the runtime itself.
    """

    key: str
    params: Mapping[str, ParamValue]
    first_number: int
    last_number: int
    costs: dict[str, float] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)
    censored: dict[str, float] = field(default_factory=dict)

    def mean_on(self, instances: Sequence[str]) -> float:
        return float(np.mean([self.costs[i] for i in instances])) if instances else math.inf


def check_instances(spec: StudySpec, policy: str) -> None:
    if spec.instances is None:
        raise PolicySpecError(
            "instances",
            f"policy {policy!r} configures over problem instances: declare "
            '"instances": {"train": [...]}',
        )
    if len(spec.objectives) != 1:
        raise PolicySpecError(
            "objectives", f"policy {policy!r} takes one objective (a runtime or a quality)"
        )


def sign(spec: StudySpec) -> float:
    """Multiplies the first objective into a cost to minimize."""
    return 1.0 if spec.objectives[0].direction == Direction.MINIMIZE else -1.0


def penalized_timeout(spec: StudySpec, trial_cutoff: float | None) -> float | None:
    """What a timed-out run scores on the first objective (PAR: par x cutoff), if anything."""
    cutoff = trial_cutoff if trial_cutoff is not None else spec.cutoff
    if cutoff is None or spec.instances is None or spec.instances.par is None:
        return None
    if spec.objectives[0].direction != Direction.MINIMIZE:
        return None
    return spec.instances.par * cutoff


def run_cost(spec: StudySpec, trial: TrialRecord) -> float | None:
    """The cost of a finished run; ``None`` when it gave no result to judge (stopped).

    A completed run's value is already its penalized runtime when it timed out (the
    server stores PAR10); a failed run costs what a timeout at the study's cutoff does,
    or infinitely much without a cutoff.
    """
    name = spec.objectives[0].name
    if trial.state == TrialState.COMPLETED and trial.values and name in trial.values:
        return sign(spec) * float(trial.values[name])
    if trial.state == TrialState.FAILED:
        penalty = penalized_timeout(spec, None)
        return penalty if penalty is not None else math.inf
    return None


def configurations(view: StudyView) -> dict[str, Configuration]:
    """The study's configurations in order of first appearance, runs on train instances."""
    spec = view.spec
    train = {i.id for i in spec.instances.train} if spec.instances is not None else set()
    found: dict[str, Configuration] = {}
    for trial in view.trials():
        if trial.instance not in train:
            continue
        key = config_key(trial.params)
        entry = found.get(key)
        if entry is None:
            entry = found[key] = Configuration(key, trial.params, trial.number, trial.number)
        entry.last_number = trial.number
        if trial.state in (TrialState.RUNNING, TrialState.PENDING):
            entry.running.add(trial.instance)
            continue
        cost = run_cost(spec, trial)
        if cost is None:
            continue
        cap = censored_at(spec, trial)
        if cap is None:
            entry.costs[trial.instance] = cost
            entry.censored.pop(trial.instance, None)
        elif trial.instance not in entry.costs:
            entry.censored[trial.instance] = max(cap, entry.censored.get(trial.instance, cap))
    return found


def censored_at(spec: StudySpec, trial: TrialRecord) -> float | None:
    """The cap of a runtime cut off below the study's cutoff; ``None`` for any other run."""
    if not trial.timed_out or trial.cutoff is None or spec.cutoff is None or sign(spec) < 0:
        return None
    return trial.cutoff if trial.cutoff < spec.cutoff else None


def incumbent_of(configs: Mapping[str, Configuration]) -> Configuration | None:
    """Most train instances run, then the lowest mean cost, then the oldest."""
    judged = [c for c in configs.values() if c.costs]
    if not judged:
        return None
    return min(judged, key=lambda c: (-len(c.costs), c.mean_on(list(c.costs)), c.first_number))


def instance_order(view: StudyView) -> list[str]:
    """The train instances in the order incumbents meet them: shuffled by the seed."""
    assert view.spec.instances is not None
    ids = [i.id for i in view.spec.instances.train]
    random.Random(view.seed).shuffle(ids)
    return ids


def new_params(
    view: StudyView,
    number: int,
    around: Mapping[str, ParamValue] | None,
    local_share: float,
    scale: float,
    taken: set[str],
) -> dict[str, ParamValue]:
    """Trial ``number``'s new configuration: near ``around`` with chance ``local_share``
    (a Gaussian step of ``scale`` in the unit cube), else uniform; never one in ``taken``."""
    rng = random.Random(view.seed * 2**32 + number)
    encoder = view.encoder
    params: dict[str, ParamValue] = {}
    for _ in range(20):
        uniform = [rng.random() for _ in range(encoder.dims)]
        if around is not None and rng.random() < local_share:
            centre = np.nan_to_num(encoder.encode(around), nan=0.5)
            step = [rng.gauss(0.0, scale) for _ in range(encoder.dims)]
            point = np.clip(centre + np.asarray(step), 0.0, 1.0)
            params = encoder.decode(point)
        else:
            params = encoder.decode(uniform)
        if config_key(params) not in taken:
            return params
    return params
