"""``ac-race``: racing challengers against an incumbent over instances, with capping.

The intensification of SMAC and ParamILS, replayed from the stored runs on every ask.
The incumbent is the configuration run on the most train instances, the best mean
breaking ties. Races under way go first: each challenger runs on the incumbent's
instances in growing batches (1, 2, 4, ...) and is dropped as soon as its mean over the
instances both ran is worse than the incumbent's; one that runs on all of them without
being worse takes the incumbent's place. After every ``challengers_per_instance``
challengers the incumbent runs on one more instance (in a seeded order), up to
``max_instances``.

Adaptive capping: when the objective is a minimized runtime and the study has a
cutoff, a challenger's run may take no longer than ``slack`` times the incumbent's
time on the challenger's instances so far, less the challenger's own; a run cut off
there is a timeout the server scores as PAR, and the challenger is dropped. The race
keeps such a run as what it is, a runtime above the cap: the challenger stays dropped
while that bound is worse than the incumbent, but when a later incumbent is slower
there than the cap, the challenger races again and reruns the instance. A
configuration cut off early by a specialist incumbent (fast on one kind of instance,
lost on the others) is not lost for good.

New challengers are drawn around the incumbent (``local_share`` of them) or
uniformly, from the seed and their trial number, so any server process suggests the
same ones for the same history.
"""

from __future__ import annotations

import zlib

from pydantic import BaseModel, ConfigDict, Field

from tunehub.schema import StudySpec
from tunehub.server.policies.base import Policy, StudyView, Suggestion
from tunehub.server.policies.configurations import (
    Configuration,
    check_instances,
    config_key,
    configurations,
    incumbent_of,
    instance_order,
    new_params,
    sign,
)


class RaceOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challengers_per_instance: int = Field(default=2, ge=1, le=1000)
    """New challengers between two new instances for the incumbent."""
    max_instances: int | None = Field(default=None, ge=1)
    """Most train instances the incumbent runs on (default: all)."""
    capping: bool = True
    slack: float = Field(default=1.2, ge=1.0, le=100.0)
    local_share: float = Field(default=0.5, ge=0.0, le=1.0)
    local_scale: float = Field(default=0.1, gt=0.0, le=1.0)
    """Standard deviation of a local step, in the unit cube of the search space."""


class RacePolicy(Policy):
    name = "ac-race"
    Options = RaceOptions

    @classmethod
    def check_spec(cls, options: BaseModel, spec: StudySpec) -> None:
        check_instances(spec, cls.name)

    def suggest(self, view: StudyView, count: int) -> list[Suggestion]:
        options = self.options
        assert isinstance(options, RaceOptions)
        race = _Race(view, options)
        out: list[Suggestion] = []
        number = view.next_number
        while len(out) < count:
            batch = race.next_runs(number, count - len(out))
            out.extend(batch)
            number += len(batch)
        return out


class _Race:
    """The race as the stored runs leave it; ``next_runs`` also books what it hands out."""

    def __init__(self, view: StudyView, options: RaceOptions) -> None:
        self.view = view
        self.options = options
        self.order = instance_order(view)[: options.max_instances]
        self.configs = configurations(view)
        self.incumbent = incumbent_of(self.configs)
        spec = view.spec
        self.capped = options.capping and spec.cutoff is not None and sign(spec) > 0
        self.taken = set(self.configs)

    def next_runs(self, number: int, room: int) -> list[Suggestion]:
        """Runs for trial numbers from ``number``: at least one, at most ``room``."""
        incumbent = self.incumbent
        for config in self.configs.values() if incumbent is not None else ():
            if config is incumbent or config.running or self._dropped(config):
                continue
            todo = self._next_batch(config)
            if todo:
                return [
                    self._book(config, instance, number + k, "race", self._cap(config, todo))
                    for k, instance in enumerate(todo[:room])
                ]
        if incumbent is not None and self._incumbent_due(incumbent):
            instance = next(i for i in self.order if i not in _seen(incumbent))
            return [self._book(incumbent, instance, number, "incumbent", None)]
        return [self._new_challenger(number)]

    def _incumbent_due(self, incumbent: Configuration) -> bool:
        if incumbent.running or len(_seen(incumbent)) >= len(self.order):
            return False
        started_since = sum(
            1 for c in self.configs.values() if c.first_number > incumbent.last_number
        )
        return started_since >= self.options.challengers_per_instance

    def _dropped(self, config: Configuration) -> bool:
        """Worse than the incumbent on the instances both ran (a cut-off run counting as
        its cap, the least it would have taken), or run where it never was."""
        incumbent = self.incumbent
        if incumbent is None:
            return False
        if any(i not in incumbent.costs for i in config.costs):
            return True  # it ran where the incumbent never did: an old incumbent, beaten
        common = [i for i in config.costs if i in incumbent.costs]
        bounded = [i for i in config.censored if i in incumbent.costs]
        if not common and not bounded:
            return False
        at_least = sum(config.costs[i] for i in common) + sum(config.censored[i] for i in bounded)
        return at_least > sum(incumbent.costs[i] for i in common + bounded)

    def _next_batch(self, config: Configuration) -> list[str]:
        """The incumbent's instances this challenger runs next: as many as it has run
        (a cut-off run is run again, against the cap of the incumbent now)."""
        assert self.incumbent is not None
        left = [i for i in self._challenger_order(config) if i not in config.costs]
        return left[: max(1, len(config.costs))]

    def _challenger_order(self, config: Configuration) -> list[str]:
        assert self.incumbent is not None
        salt = f"{self.view.seed}:{config.first_number}:"
        return sorted(self.incumbent.costs, key=lambda i: zlib.crc32((salt + i).encode()))

    def _cap(self, config: Configuration, batch: list[str]) -> float | None:
        if not self.capped:
            return None
        incumbent = self.incumbent
        assert incumbent is not None and self.view.spec.cutoff is not None
        # The challenger's time so far counts a cut-off run at its cap: then a run cut off
        # now leaves it dropped (over slack x the incumbent's time), and a run that is
        # cut off again gets a higher cap than the last one.
        known = {**config.censored, **config.costs}
        on = [i for i in {**known, **dict.fromkeys(batch)} if i in incumbent.costs]
        budget = self.options.slack * sum(incumbent.costs[i] for i in on)
        left = budget - sum(known[i] for i in on if i not in batch)
        if left >= self.view.spec.cutoff:
            return None
        return max(left, 0.01 * self.view.spec.cutoff)

    def _new_challenger(self, number: int) -> Suggestion:
        incumbent = self.incumbent
        params = new_params(
            self.view,
            number,
            incumbent.params if incumbent is not None else None,
            self.options.local_share,
            self.options.local_scale,
            self.taken,
        )
        key = config_key(params)
        config = Configuration(key, params, first_number=number, last_number=number)
        self.configs[key] = config
        self.taken.add(key)
        if incumbent is None:
            return self._book(config, self.order[0], number, "new", None)
        instance = self._challenger_order(config)[0]
        cap = self._cap(config, [instance])
        return self._book(config, instance, number, "new", cap)

    def _book(
        self,
        config: Configuration,
        instance: str,
        number: int,
        kind: str,
        cutoff: float | None,
    ) -> Suggestion:
        config.running.add(instance)
        config.last_number = number
        meta = {"ac": kind, "config": config.first_number}
        return Suggestion(params=config.params, instance=instance, cutoff=cutoff, meta=meta)


def _seen(config: Configuration) -> set[str]:
    return set(config.costs) | config.running
