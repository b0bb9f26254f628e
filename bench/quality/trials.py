"""What one evaluation left behind, recorded the same way for every optimizer."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Trial:
        """The inverse of ``to_json``; a null outcome (how results.json writes NaN) is NaN."""
        outcome = {k: math.nan if v is None else float(v) for k, v in data["outcome"].items()}
        return cls(dict(data["params"]), outcome, float(data["seconds"]))


@dataclass
class Recorder:
    """Evaluates configurations for an optimizer and keeps every trial in order.

    Adapters call ``evaluate`` instead of the problem directly, so no adapter
    can forget to record a trial or record it differently from the others.
    """

    space: Space
    evaluate_fn: Callable[[Params], Outcome]
    trials: list[Trial] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def evaluate(self, params: Mapping[str, Any]) -> Outcome:
        """The outcome of ``params``; inactive parameters a peer filled in are dropped first."""
        clean = active_only(self.space, {k: _plain(v) for k, v in params.items()})
        outcome = {k: float(v) for k, v in self.evaluate_fn(clean).items()}
        self.trials.append(Trial(clean, outcome, time.perf_counter() - self.started))
        return outcome


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones, so traces serialize to JSON."""
    return value.item() if hasattr(value, "item") else value
