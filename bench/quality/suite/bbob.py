"""COCO's BBOB functions (``coco-experiment``): shifted and rotated instances with known optima.

Each BBOB instance moves the optimum and, for the non-separable functions,
rotates the landscape, so an optimizer cannot profit from where a textbook
function keeps its minimum. Every problem searches ``[-5, 5]^d``.
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.quality.problem import Problem
from bench.quality.suite.functions import box_space

BUDGET = 50

# (BBOB function number, dimension, instance): every group of the suite, in the dimensions
# BBOB defines (2, 3, 5, 10).
INSTANCES: tuple[tuple[int, int, int], ...] = (
    (2, 5, 1),  # separable ellipsoid
    (3, 5, 1),  # separable Rastrigin
    (6, 5, 2),  # attractive sector
    (7, 3, 1),  # step ellipsoid: plateaus
    (8, 5, 2),  # Rosenbrock, original
    (10, 5, 1),  # rotated ellipsoid
    (12, 5, 1),  # bent cigar
    (13, 5, 2),  # sharp ridge
    (15, 3, 1),  # rotated Rastrigin
    (15, 2, 3),
    (16, 3, 1),  # Weierstrass
    (17, 5, 1),  # Schaffers F7
    (19, 3, 1),  # composite Griewank-Rosenbrock
    (20, 5, 1),  # Schwefel x sin(x)
    (21, 5, 1),  # Gallagher, 101 peaks
    (21, 10, 2),
    (22, 2, 3),  # Gallagher, 21 peaks
    (24, 3, 1),  # Lunacek bi-Rastrigin
)

_optimum_lock = threading.Lock()


def name_of(function: int, dimension: int, instance: int) -> str:
    return f"bbob-f{function}-d{dimension}-i{instance}"


def _coco_problem(function: int, dimension: int, instance: int) -> Any:
    return _suite_and_problem(function, dimension, instance)[1]


@functools.cache
def _suite_and_problem(function: int, dimension: int, instance: int) -> tuple[Any, Any]:
    """The problem with its suite, which owns the problem's C object and must outlive it."""
    import cocoex

    options = f"function_indices:{function} dimensions:{dimension} instance_indices:{instance}"
    suite = cocoex.Suite("bbob", "", options)
    return suite, next(iter(suite))


@functools.cache
def optimizer_of(function: int, dimension: int, instance: int) -> tuple[float, ...]:
    """The instance's minimizer, which cocoex only writes to a file in the working folder."""
    problem = _coco_problem(function, dimension, instance)
    with _optimum_lock, tempfile.TemporaryDirectory(prefix="bbob-") as tmp:
        here = os.getcwd()
        os.chdir(tmp)
        try:
            problem._best_parameter("print")
            text = Path(tmp, "._bbob_problem_best_parameter.txt").read_text()
        finally:
            os.chdir(here)
    return tuple(float(v) for v in text.split())


@dataclass(frozen=True)
class BbobFunction:
    function: int
    dimension: int
    instance: int

    def __call__(self, params: dict[str, Any]) -> dict[str, float]:
        x = np.array([params[f"x{i}"] for i in range(self.dimension)], dtype=float)
        return {"f": float(_coco_problem(self.function, self.dimension, self.instance)(x))}

    @property
    def optimum(self) -> float:
        x = optimizer_of(self.function, self.dimension, self.instance)
        return float(_coco_problem(self.function, self.dimension, self.instance)(np.array(x)))


def problems() -> list[Problem]:
    out = []
    for function, dimension, instance in INSTANCES:
        evaluate = BbobFunction(function, dimension, instance)
        names = tuple(f"x{i}" for i in range(dimension))
        out.append(
            Problem(
                name=name_of(function, dimension, instance),
                description=f"BBOB f{function}, instance {instance}, {dimension}-D on [-5, 5]^d",
                space=box_space(names, [(-5.0, 5.0)] * dimension),
                objectives=("f",),
                budget=BUDGET,
                evaluate=evaluate,
                optimum=evaluate.optimum,
                family="bbob",
            )
        )
    return out
