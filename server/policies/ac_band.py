"""``ac-band``: configurations raced in groups, the first to finish winning (AC-Band).

After Brandt et al., "AC-Band: A Combinatorial Bandit-Based Approach to Algorithm
Configuration" (AAAI 2023). Each iteration takes a pool of ``pool_size``
configurations: the last iteration's winner and new ones (drawn around it, or
uniformly). Combinatorial successive elimination then runs in stages: the pool is
split into groups of ``group_size``, each group races on one instance with its
members in parallel, and only each race's winner goes on to the next stage. The
last one standing is the incumbent and enters the next iteration's pool.

On a runtime study (a minimized objective and a cutoff), the first member to finish
wins, and the server stops the others at once (``settle``): they are stored as
``stopped``, right-censored runs that lost. A member that starts after another has
finished races against that time: its cutoff is the finisher's runtime. Otherwise
every member runs to the end and the best value wins.

The plan (pools, groups, instances) is a function of the seed and the stored trials;
each trial's meta names its iteration, stage, group and pool member.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tunehub.schema import StudySpec, TrialState
from tunehub.server.policies.base import Policy, StudyView, Suggestion, TrialRecord
from tunehub.server.policies.configurations import (
    check_instances,
    config_key,
    new_params,
    run_cost,
    sign,
)
from tunehub.space import ParamValue

NEW_CONFIG_STREAM = 1 << 40
"""Offset of the random streams of new pool members, apart from trial numbers."""


class BandOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_size: int = Field(default=4, ge=2, le=64)
    """Configurations racing on one instance at once (the parallel runs of a race)."""
    pool_size: int = Field(default=16, ge=2, le=4096)
    local_share: float = Field(default=0.5, ge=0.0, le=1.0)
    local_scale: float = Field(default=0.1, gt=0.0, le=1.0)


@dataclass(frozen=True)
class RaceKey:
    iteration: int
    stage: int
    group: int

    def meta(self, member: int) -> dict[str, Any]:
        return {
            "ac": "band",
            "iteration": self.iteration,
            "stage": self.stage,
            "group": self.group,
            "member": member,
        }


def race_of(trial: TrialRecord) -> tuple[RaceKey, int] | None:
    meta = trial.meta or {}
    if meta.get("ac") != "band":
        return None
    key = RaceKey(int(meta["iteration"]), int(meta["stage"]), int(meta["group"]))
    return key, int(meta["member"])


def first_finisher_wins(spec: StudySpec) -> bool:
    return spec.cutoff is not None and sign(spec) > 0


class BandPolicy(Policy):
    name = "ac-band"
    Options = BandOptions
    settles = True

    @classmethod
    def check_spec(cls, options: BaseModel, spec: StudySpec) -> None:
        check_instances(spec, cls.name)

    def suggest(self, view: StudyView, count: int) -> list[Suggestion]:
        options = self.options
        assert isinstance(options, BandOptions)
        return _Plan(view, options).open_runs()[:count]

    def settle(self, view: StudyView, trial: TrialRecord) -> Sequence[int]:
        """A finished race member ends its race: the others still running lost."""
        found = race_of(trial)
        if found is None or not first_finisher_wins(view.spec) or trial.timed_out:
            return ()
        if trial.state != TrialState.COMPLETED:
            return ()
        key, _ = found
        return [
            t.id
            for t in view.trials([TrialState.RUNNING])
            if t.id != trial.id and (race_of(t) or (None, 0))[0] == key
        ]


class _Plan:
    """Replays the iterations the stored races decided, up to the first undecided stage."""

    def __init__(self, view: StudyView, options: BandOptions) -> None:
        self.view = view
        self.options = options
        assert view.spec.instances is not None
        self.train = [i.id for i in view.spec.instances.train]
        self.runs: dict[RaceKey, dict[int, list[TrialRecord]]] = {}
        self.taken: set[str] = set()
        for trial in view.trials():
            self.taken.add(config_key(trial.params))
            found = race_of(trial)
            if found is not None:
                key, member = found
                self.runs.setdefault(key, {}).setdefault(member, []).append(trial)

    def open_runs(self) -> list[Suggestion]:
        """The runs the current stage still needs (none while it waits on running ones)."""
        incumbent: Mapping[str, ParamValue] | None = None
        iteration = 0
        while True:
            pool = self._pool(iteration, incumbent)
            members = list(range(len(pool)))
            stage = 0
            while len(members) > 1:
                winners: list[int] = []
                todo: list[Suggestion] = []
                waiting = False
                for group, racers in enumerate(self._groups(members, iteration, stage)):
                    key = RaceKey(iteration, stage, group)
                    if len(racers) == 1:
                        winners.extend(racers)
                        continue
                    winner, open_slots, running = self._race(key, racers, pool)
                    todo.extend(open_slots)
                    waiting = waiting or running
                    if winner is not None:
                        winners.append(winner)
                if todo or waiting:
                    return todo
                members = sorted(winners)
                stage += 1
            incumbent = pool[members[0]]
            iteration += 1

    def _pool(
        self, iteration: int, incumbent: Mapping[str, ParamValue] | None
    ) -> list[Mapping[str, ParamValue]]:
        pool: list[Mapping[str, ParamValue]] = [] if incumbent is None else [incumbent]
        slot = 0
        while len(pool) < self.options.pool_size:
            stream = NEW_CONFIG_STREAM + iteration * self.options.pool_size + slot
            params = new_params(
                self.view,
                stream,
                incumbent,
                self.options.local_share,
                self.options.local_scale,
                {config_key(p) for p in pool},
            )
            pool.append(params)
            slot += 1
        return pool

    def _groups(self, members: list[int], iteration: int, stage: int) -> list[list[int]]:
        shuffled = list(members)
        random.Random(f"{self.view.seed}:{iteration}:{stage}").shuffle(shuffled)
        size = self.options.group_size
        groups = [shuffled[i : i + size] for i in range(0, len(shuffled), size)]
        if len(groups) > 1 and len(groups[-1]) == 1:  # no race of one: join the one before
            groups[-2].extend(groups.pop())
        return groups

    def _instance(self, key: RaceKey) -> str:
        salt = f"{self.view.seed}:{key.iteration}:{key.stage}:{key.group}"
        return self.train[zlib.crc32(salt.encode()) % len(self.train)]

    def _race(
        self, key: RaceKey, racers: list[int], pool: list[Mapping[str, ParamValue]]
    ) -> tuple[int | None, list[Suggestion], bool]:
        """``(winner, runs still to start, whether some run is under way)``."""
        spec = self.view.spec
        runs = self.runs.get(key, {})
        costs: dict[int, float] = {}
        running = False
        for member in racers:
            for trial in runs.get(member, []):
                if trial.state in (TrialState.RUNNING, TrialState.PENDING):
                    running = True
                elif not trial.timed_out:
                    cost = run_cost(spec, trial)
                    if cost is not None and trial.state == TrialState.COMPLETED:
                        costs[member] = min(cost, costs.get(member, cost))
        missing = [m for m in racers if m not in runs]
        if missing:
            cap = None
            if costs and first_finisher_wins(spec):
                cap = min(costs.values())  # a late starter races against the finish time
            instance = self._instance(key)
            slots = [
                Suggestion(params=pool[m], instance=instance, cutoff=cap, meta=key.meta(m))
                for m in missing
            ]
            return None, slots, running
        if running:
            return None, [], True
        if not costs:  # nobody finished: the lowest member (the incumbent, if any) goes on
            return min(racers), [], False
        return min(costs, key=lambda m: (costs[m], m)), [], False
