"""Multi-objective problems from BoTorch, scored by hypervolume against its published maximum.

BoTorch publishes each problem's reference point and maximum hypervolume (for
minimization); ``c2dtlz2`` adds an outcome constraint (slack ``c0 >= 0``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.quality.problem import Constraint, Problem
from bench.quality.suite.functions import BotorchFunction, box_space
from bench.quality.suite.synthetic import function_of

BUDGET = 50

# (problem name, BoTorch class, its arguments)
FUNCTIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("zdt1-4", "ZDT1", {"dim": 4}),
    ("zdt2-4", "ZDT2", {"dim": 4}),
    ("zdt3-4", "ZDT3", {"dim": 4}),
    ("dtlz2-6x3", "DTLZ2", {"dim": 6, "num_objectives": 3}),
    ("vehicle-safety", "VehicleSafety", {}),
    ("c2dtlz2-4", "C2DTLZ2", {"dim": 4, "num_objectives": 2}),
)


@dataclass(frozen=True)
class Objectives:
    """A problem's ``evaluate``: objectives ``f1 .. fm``, and slacks ``c<i>`` if constrained."""

    function: BotorchFunction

    def __call__(self, params: dict[str, Any]) -> dict[str, float]:
        x = [[params[f"x{i}"] for i in range(self.function.dim)]]
        values = self.function.values(x)[0]
        out = {f"f{j + 1}": float(v) for j, v in enumerate(values)}
        if getattr(self.function.module, "num_constraints", 0):
            out.update({f"c{i}": float(s) for i, s in enumerate(self.function.slacks(x)[0])})
        return out


def problems() -> list[Problem]:
    out = []
    for name, cls, kwargs in FUNCTIONS:
        function = function_of(cls, kwargs)
        module = function.module
        m = int(module.num_objectives)
        k = int(getattr(module, "num_constraints", 0))
        names = tuple(f"x{i}" for i in range(function.dim))
        out.append(
            Problem(
                name=name,
                description=f"BoTorch {cls}, {function.dim}-D, {m} objectives"
                + (f", {k} constraint" if k else ""),
                space=box_space(names, function.bounds),
                objectives=tuple(f"f{j + 1}" for j in range(m)),
                budget=BUDGET,
                evaluate=Objectives(function),
                constraints=tuple(Constraint(f"c{i}", ">=", 0.0) for i in range(k)),
                reference_point=tuple(float(v) for v in module._ref_point),
                max_hypervolume=float(module._max_hv),
                family="multi-objective",
            )
        )
    return out
