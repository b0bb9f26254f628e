"""The one interface every optimizer adapter implements."""

from __future__ import annotations

import abc
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from bench.quality.problem import Problem
from bench.quality.trials import Trial


@dataclass(frozen=True)
class Context:
    """What a run may use beyond its problem and seed."""

    tunehub_url: str | None
    """The harness's live server; ``None`` when no Tunehub optimizer was asked for."""
    run_id: str
    """Unique per harness run, so study names never collide on a reused server."""
    workdir: Path
    """A scratch folder of this run (peers that insist on writing files use it)."""


class Optimizer(abc.ABC):
    """Given a problem, a seed and a budget, evaluate ``budget`` configurations.

    ``optimize`` returns the trials in evaluation order. It may raise: the
    harness records the exception as that run's error.
    """

    name: str
    requires: tuple[str, ...] = ()
    """Top-level packages the optimizer imports when it runs."""

    def missing(self) -> str | None:
        """Which required package is not installed, else None.

        Looked up without importing, so the harness's own process stays light.
        """
        for package in self.requires:
            if importlib.util.find_spec(package) is None:
                return f"no module named {package!r}"
        return None

    def unsupported(self, problem: Problem) -> str | None:
        """Why this optimizer does not apply to ``problem`` (reported as n/a), else None."""
        return None

    @abc.abstractmethod
    def optimize(self, problem: Problem, seed: int, budget: int, context: Context) -> list[Trial]:
        """Run the optimizer's own loop for ``budget`` evaluations."""
