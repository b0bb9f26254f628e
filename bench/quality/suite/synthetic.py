"""Continuous synthetic problems: BoTorch's test functions on their published boxes."""

from __future__ import annotations

from typing import Any

from bench.quality.problem import Problem
from bench.quality.suite.functions import BotorchFunction, OnCoordinates, box_space

BUDGET = 50

# (problem name, BoTorch class, its arguments)
FUNCTIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("ackley-5", "Ackley", {"dim": 5}),
    ("levy-4", "Levy", {"dim": 4}),
    ("levy-8", "Levy", {"dim": 8}),
    ("rastrigin-4", "Rastrigin", {"dim": 4}),
    ("rosenbrock-4", "Rosenbrock", {"dim": 4}),
    ("rosenbrock-8", "Rosenbrock", {"dim": 8}),
    ("griewank-5", "Griewank", {"dim": 5}),
    ("michalewicz-5", "Michalewicz", {"dim": 5}),
    ("michalewicz-10", "Michalewicz", {"dim": 10}),
    ("styblinskitang-4", "StyblinskiTang", {"dim": 4}),
    ("styblinskitang-8", "StyblinskiTang", {"dim": 8}),
    ("hartmann-3", "Hartmann", {"dim": 3}),
    ("shekel-5", "Shekel", {"m": 5}),
    ("shekel-10", "Shekel", {"m": 10}),
    ("powell-8", "Powell", {"dim": 8}),
    ("dixonprice-6", "DixonPrice", {"dim": 6}),
    ("sixhumpcamel", "SixHumpCamel", {}),
    ("dropwave", "DropWave", {}),
    ("eggholder", "EggHolder", {}),
    ("holdertable", "HolderTable", {}),
    ("beale", "Beale", {}),
)


def function_of(cls: str, kwargs: dict[str, Any]) -> BotorchFunction:
    return BotorchFunction(cls, tuple(sorted(kwargs.items())))


def on_box(name: str, function: BotorchFunction, description: str, family: str) -> Problem:
    """``function`` minimized over its published box, its coordinates named ``x0 .. x<d-1>``."""
    names = tuple(f"x{i}" for i in range(function.dim))
    return Problem(
        name=name,
        description=description,
        space=box_space(names, function.bounds),
        objectives=("f",),
        budget=BUDGET,
        evaluate=OnCoordinates(function, names),
        optimum=function.optimum,
        family=family,
    )


def problems() -> list[Problem]:
    out = []
    for name, cls, kwargs in FUNCTIONS:
        function = function_of(cls, kwargs)
        description = f"BoTorch {cls}, {function.dim}-D on its published box"
        out.append(on_box(name, function, description, "synthetic"))
    return out
