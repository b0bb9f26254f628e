"""The problems every policy is judged on: the classic seven and the broad suite.

The classic seven came first; ``bench.quality.suite`` adds the families of
the broad suite (synthetic, BBOB, noisy, mixed, scikit-learn, constrained,
multi-objective). Every problem belongs to one half of ``split.halves``,
fixed before any default was chosen on the development half.
Every objective is minimized.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

from bench.quality import functions
from bench.quality.problem import Constraint, Problem
from bench.quality.real_task import SPACE as SVC_SPACE
from bench.quality.real_task import svc_digits_error
from bench.quality.split import halves
from bench.quality.trials import Outcome, Params

__all__ = ["Constraint", "Problem", "get_problem", "problem_names"]


def _branin(p: Params) -> Outcome:
    return {"f": functions.branin(p["x1"], p["x2"])}


def _hartmann6(p: Params) -> Outcome:
    return {"f": functions.hartmann6([p[f"x{i}"] for i in range(6)])}


def _ackley10(p: Params) -> Outcome:
    return {"f": functions.ackley([p[f"x{i}"] for i in range(10)])}


def _mixed(p: Params) -> Outcome:
    """Minimum 0 at x=1.3, n=6, lr=10**-2.5, kind="b", b_level=7, b_mode="u"."""
    value = (p["x"] - 1.3) ** 2 / 10
    value += (math.log10(p["lr"]) + 2.5) ** 2 / 4
    value += (math.log(p["n"]) - math.log(6)) ** 2
    if p["kind"] == "a":
        value += 0.5 + 4 * (p["a_scale"] - 0.3) ** 2
    elif p["kind"] == "b":
        value += 0.05 * (p["b_level"] - 7) ** 2 + (0.0 if p["b_mode"] == "u" else 0.3)
    else:
        value += 1.0
    return {"f": value}


def _constrained_branin(p: Params) -> Outcome:
    x1, x2 = p["x1"], p["x2"]
    return {"f": functions.branin(x1, x2), "c1": 13.0 - x1 - x2 - 2.0 * math.sin(x1)}


def _branin_currin(p: Params) -> Outcome:
    u1, u2 = p["x0"], p["x1"]
    return {
        "f1": functions.branin(15.0 * u1 - 5.0, 15.0 * u2),
        "f2": functions.currin(u1, u2),
    }


def _box(names: list[str], low: float, high: float) -> dict[str, dict[str, Any]]:
    return {n: {"type": "float", "low": low, "high": high, "log": False} for n in names}


_BRANIN_SPACE = {
    "x1": {"type": "float", "low": -5.0, "high": 10.0, "log": False},
    "x2": {"type": "float", "low": 0.0, "high": 15.0, "log": False},
}

CLASSIC: tuple[Problem, ...] = (
    Problem(
        name="branin",
        description="Branin-Hoo, 2-D",
        space=_BRANIN_SPACE,
        objectives=("f",),
        budget=50,
        evaluate=_branin,
        optimum=functions.BRANIN_MIN,
    ),
    Problem(
        name="hartmann6",
        description="Hartmann, 6-D on [0, 1]^6",
        space=_box([f"x{i}" for i in range(6)], 0.0, 1.0),
        objectives=("f",),
        budget=50,
        evaluate=_hartmann6,
        optimum=functions.HARTMANN6_MIN,
    ),
    Problem(
        # [-5, 10] puts the optimum off the box's centre, which rewards no centre bias.
        name="ackley10",
        description="Ackley, 10-D on [-5, 10]^10",
        space=_box([f"x{i}" for i in range(10)], -5.0, 10.0),
        objectives=("f",),
        budget=50,
        evaluate=_ackley10,
        optimum=0.0,
    ),
    Problem(
        name="mixed",
        description="synthetic float/int/log/categorical space with conditional children",
        space={
            "x": {"type": "float", "low": -5.0, "high": 5.0, "log": False},
            "n": {"type": "int", "low": 1, "high": 64, "log": True},
            "lr": {"type": "float", "low": 1e-5, "high": 1.0, "log": True},
            "kind": {"type": "categorical", "choices": ["a", "b", "c"]},
            "a_scale": {
                "type": "float",
                "low": 0.0,
                "high": 1.0,
                "log": False,
                "condition": {"kind": ["a"]},
            },
            "b_level": {
                "type": "int",
                "low": 0,
                "high": 10,
                "log": False,
                "condition": {"kind": ["b"]},
            },
            "b_mode": {
                "type": "categorical",
                "choices": ["u", "v"],
                "condition": {"kind": ["b"]},
            },
        },
        objectives=("f",),
        budget=60,
        evaluate=_mixed,
        optimum=0.0,
    ),
    Problem(
        name="real",
        description="SVC on sklearn digits, 3-fold CV error (optimum unknown)",
        space=SVC_SPACE,
        objectives=("error",),
        budget=50,
        evaluate=svc_digits_error,
    ),
    Problem(
        # Feasible iff x1 + x2 + 2 sin(x1) >= 13 (a third of the box); all three
        # unconstrained minima are infeasible. The optimum is SLSQP's from the best
        # feasible point of a 4001^2 grid; the penalty is that grid's worst feasible value.
        name="constrained",
        description="Branin with c1 = 13 - x1 - x2 - 2 sin(x1) <= 0",
        space=_BRANIN_SPACE,
        objectives=("f",),
        budget=50,
        evaluate=_constrained_branin,
        optimum=1.6018897806152026,
        constraints=(Constraint("c1", "<=", 0.0),),
        penalty=212.83543830382854,
    ),
    Problem(
        # Reference point and maximum hypervolume as BoTorch publishes them for
        # BraninCurrin; a 3000^2 grid's front reaches 59.32, just below.
        name="branincurrin",
        description="BraninCurrin on [0, 1]^2, both minimized; hypervolume w.r.t. (18, 6)",
        space=_box(["x0", "x1"], 0.0, 1.0),
        objectives=("f1", "f2"),
        budget=50,
        evaluate=_branin_currin,
        reference_point=(18.0, 6.0),
        max_hypervolume=59.36011874867746,
    ),
)


@functools.cache
def _registry() -> dict[str, Problem]:
    """Every problem by name, each with its half; built once per process (about 2 s: the
    suite's functions are set up and their ranges measured)."""
    from bench.quality.suite import all_problems

    problems = [*CLASSIC, *all_problems()]
    split = halves((p.name, p.family) for p in problems)
    return {p.name: dataclasses.replace(p, half=split[p.name]) for p in problems}


def problem_names() -> list[str]:
    return list(_registry())


def get_problem(name: str) -> Problem:
    problems = _registry()
    try:
        return problems[name]
    except KeyError:
        raise ValueError(f"unknown problem {name!r}: choose from {sorted(problems)}") from None
