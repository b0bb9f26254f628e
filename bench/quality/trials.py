"""What one evaluation left behind, recorded the same way for every optimizer."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.quality.space import Space, active_only

Params = dict[str, Any]
Outcome = dict[str, float]
"""Objective values and constraint metrics by name, as the problem's ``evaluate`` returns them."""


@dataclass
class Trial:
    params: Params
    outcome: Outcome
    seconds: float
    """Since the optimizer's run started, so a trace also shows how long proposing took."""
    noiseless: Outcome | None = None
    """On a noisy problem, the objective values before noise: what the trial is scored by."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.noiseless is None:
            del data["noiseless"]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Trial:
        """The inverse of ``to_json``; a null outcome (how results.json writes NaN) is NaN."""
        noiseless = data.get("noiseless")
        return cls(
            dict(data["params"]),
            _numbers(data["outcome"]),
            float(data["seconds"]),
            None if noiseless is None else _numbers(noiseless),
        )

    @property
    def scored(self) -> Outcome:
        """The outcome a score is computed from: noiseless where the problem is noisy."""
        return self.outcome if self.noiseless is None else {**self.outcome, **self.noiseless}


def _numbers(values: Mapping[str, Any]) -> Outcome:
    return {k: math.nan if v is None else float(v) for k, v in values.items()}


@dataclass(frozen=True)
class Noise:
    """Gaussian noise of standard deviation ``sd`` on each of ``objectives``.

    Drawn from a stream seeded by the problem and the run's seed alone, so every
    optimizer's i-th evaluation gets the same draw (common random numbers).
    """

    sd: float
    objectives: Sequence[str]
    seed: str


@dataclass
class Recorder:
    """Evaluates configurations for an optimizer and keeps every trial in order.

    Adapters call ``evaluate`` instead of the problem directly, so no adapter
    can forget to record a trial or record it differently from the others.
    """

    space: Space
    evaluate_fn: Callable[[Params], Outcome]
    noise: Noise | None = None
    trials: list[Trial] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    _rng: random.Random | None = None

    def evaluate(self, params: Mapping[str, Any]) -> Outcome:
        """The outcome of ``params`` as the optimizer observes it (noise included);
        inactive parameters a peer filled in are dropped first."""
        clean = active_only(self.space, {k: _plain(v) for k, v in params.items()})
        outcome = {k: float(v) for k, v in self.evaluate_fn(clean).items()}
        noiseless = None
        if self.noise is not None and self.noise.sd > 0:
            if self._rng is None:
                self._rng = random.Random(self.noise.seed)
            noiseless = {n: outcome[n] for n in self.noise.objectives}
            for n in self.noise.objectives:
                outcome[n] += self._rng.gauss(0.0, self.noise.sd)
        elapsed = time.perf_counter() - self.started
        self.trials.append(Trial(clean, outcome, elapsed, noiseless))
        return dict(outcome)


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones, so traces serialize to JSON."""
    return value.item() if hasattr(value, "item") else value
