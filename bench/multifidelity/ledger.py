"""What a run spent and found, recorded the same way for every optimizer.

``charge`` counts budget as it is consumed (an epoch trained, whole or resumed),
``record`` an evaluation that ended (completed, stopped or pruned) with its loss.
The run ends once ``total_budget`` is spent; evaluations already running finish.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.multifidelity.problems import MFProblem
from bench.quality.space import active_only


@dataclass
class Evaluation:
    params: dict[str, Any]
    budget: float
    loss: float
    spent: float
    """The run's budget spent when this evaluation ended."""
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Ledger:
    problem: MFProblem
    evaluations: list[Evaluation] = field(default_factory=list)
    spent: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def exhausted(self) -> bool:
        return self.spent >= self.problem.total_budget

    def loss(self, params: Mapping[str, Any], budget: float) -> float:
        """The loss after ``budget``; charges nothing (callers charge what they trained)."""
        return self.problem.evaluate(self.clean(params), budget)

    def charge(self, amount: float) -> None:
        with self.lock:
            self.spent += amount

    def record(self, params: Mapping[str, Any], budget: float, loss: float) -> None:
        with self.lock:
            self.evaluations.append(
                Evaluation(
                    self.clean(params),
                    float(budget),
                    float(loss),
                    self.spent,
                    time.perf_counter() - self.started,
                )
            )

    def clean(self, params: Mapping[str, Any]) -> dict[str, Any]:
        plain = {k: v.item() if hasattr(v, "item") else v for k, v in params.items()}
        return active_only(self.problem.space, plain)
