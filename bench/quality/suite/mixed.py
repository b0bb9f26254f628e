"""Mixed and conditional spaces generated from BoTorch's continuous functions.

Each problem reads a continuous function's coordinates from floats, floats on
log ranges of five decades or more, and integers (some log-scaled). A
categorical ``kind`` picks how the function is placed: each choice moves the
function's minimizer to its own point of the space and may rotate the
landscape around it, scale it or raise it. Under the best choice a two-level
subtree matters (``a_mode``, and ``a_width`` on a log range when the mode is
``fine``); under the others it is absent. Three parameters do nothing.

The minimum is known by construction: the base function's, reached under
choice ``a`` with mode ``fine`` at the target width, with every coordinate
where that choice put the minimizer (integers land on an integer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from bench.quality.problem import Problem
from bench.quality.suite.functions import BotorchFunction, value_range
from bench.quality.suite.synthetic import function_of

BUDGET = 50
SUBTREE_PENALTY = 0.1
"""What the wrong mode, or a width far from the target, adds: this fraction of the range."""
WIDTH_RANGE = (1e-4, 10.0)

Kind = Literal["float", "logfloat", "int", "logint"]


@dataclass(frozen=True)
class Coordinate:
    """A parameter that sets one coordinate of the base function, through its position."""

    name: str
    kind: Kind
    low: float
    high: float

    @property
    def log(self) -> bool:
        return self.kind.startswith("log")

    def spec(self) -> dict[str, Any]:
        integer = self.kind.endswith("int")
        low, high = (int(self.low), int(self.high)) if integer else (self.low, self.high)
        return {"type": "int" if integer else "float", "low": low, "high": high, "log": self.log}

    def position(self, value: float) -> float:
        """Where ``value`` sits in the range, on the log axis for log kinds: in [0, 1]."""
        if self.log:
            return (math.log(value) - math.log(self.low)) / (
                math.log(self.high) - math.log(self.low)
            )
        return (value - self.low) / (self.high - self.low)

    def snapped(self, position: float) -> float:
        """``position`` moved to the nearest integer's position for integer kinds."""
        if not self.kind.endswith("int"):
            return position
        if self.log:
            value = math.exp(math.log(self.low) + position * math.log(self.high / self.low))
        else:
            value = self.low + position * (self.high - self.low)
        return self.position(min(max(round(value), self.low), self.high))


@dataclass(frozen=True)
class Choice:
    """How one value of ``kind`` places the function: minimizer at ``anchor`` (positions),
    rotated by ``rotation`` around it, then ``value = f* + scale (f - f*) + offset * range``."""

    label: str
    anchor: tuple[float, ...]
    rotation: tuple[tuple[float, ...], ...]
    scale: float
    offset: float


@dataclass(frozen=True)
class MixedFunction:
    base: BotorchFunction
    coordinates: tuple[Coordinate, ...]
    choices: tuple[Choice, ...]
    width_target: float
    """log10 of the best ``a_width``."""

    def __call__(self, params: dict[str, Any]) -> dict[str, float]:
        choice = next(c for c in self.choices if c.label == params["kind"])
        u = np.array([c.position(params[c.name]) for c in self.coordinates])
        lows, highs = np.array(self.base.bounds).T
        best = (np.array(self.base.optimizer) - lows) / (highs - lows)
        placed = best + np.array(choice.rotation) @ (u - np.array(choice.anchor))
        x = lows + np.clip(placed, 0.0, 1.0) * (highs - lows)
        f_star, spread = self.base.optimum, value_range(self.base)
        value = f_star + choice.scale * (self.base(x.tolist()) - f_star) + choice.offset * spread
        if choice.label == "a":
            if params["a_mode"] == "coarse":
                value += SUBTREE_PENALTY * spread
            else:
                miss = (math.log10(params["a_width"]) - self.width_target) / 2.0
                value += SUBTREE_PENALTY * spread * min(1.0, miss**2)
        return {"f": float(value)}


def _rotation(rng: np.random.Generator, d: int) -> tuple[tuple[float, ...], ...]:
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    q = q * np.sign(np.diag(r))
    return tuple(tuple(float(v) for v in row) for row in q)


def _choices(
    coordinates: tuple[Coordinate, ...], count: int, rng: np.random.Generator
) -> tuple[Choice, ...]:
    """``a`` holds the minimum; then by turns a scaled, a rotated and a shifted-up placement."""
    d = len(coordinates)
    identity = tuple(tuple(float(i == j) for j in range(d)) for i in range(d))
    out = []
    for index in range(count):
        anchor = tuple(c.snapped(float(rng.uniform(0.15, 0.85))) for c in coordinates)
        label = "abcdefgh"[index]
        step = index % 3
        if index == 0:
            out.append(Choice(label, anchor, identity, 1.0, 0.0))
        elif step == 1:
            out.append(Choice(label, anchor, identity, 2.0, 0.03 * index))
        elif step == 2:
            out.append(Choice(label, anchor, _rotation(rng, d), 1.0, 0.03 * index))
        else:
            out.append(Choice(label, anchor, identity, 0.5, 0.1 * index))
    return tuple(out)


@dataclass(frozen=True)
class Layout:
    name: str
    cls: str
    kwargs: dict[str, Any]
    coordinates: tuple[Coordinate, ...]
    choices: int = 3


def C(name: str, kind: Kind, low: float, high: float) -> Coordinate:
    return Coordinate(name, kind, low, high)


LAYOUTS: tuple[Layout, ...] = (
    Layout(
        "mixed-rosenbrock-3",
        "Rosenbrock",
        {"dim": 3},
        (C("x", "float", -1.0, 1.0), C("y", "float", 0.0, 5.0), C("n", "logint", 1, 1024)),
    ),
    Layout(
        "mixed-levy-4",
        "Levy",
        {"dim": 4},
        (
            C("x", "float", 0.0, 1.0),
            C("lr", "logfloat", 1e-5, 1.0),
            C("n", "int", 0, 20),
            C("m", "logint", 1, 512),
        ),
    ),
    Layout(
        "mixed-ackley-5",
        "Ackley",
        {"dim": 5},
        (
            C("x", "float", -2.0, 2.0),
            C("y", "float", 0.0, 1.0),
            C("scale", "logfloat", 1e-3, 1e3),
            C("n", "int", -10, 10),
            C("k", "logint", 2, 4096),
        ),
        choices=5,
    ),
    Layout(
        "mixed-hartmann-6",
        "Hartmann",
        {"dim": 6},
        (
            C("x", "float", 0.0, 1.0),
            C("y", "float", -3.0, 3.0),
            C("z", "float", 10.0, 20.0),
            C("lr", "logfloat", 1e-6, 1e-1),
            C("n", "logint", 1, 64),
            C("b", "int", 0, 8),
        ),
    ),
    Layout(
        "mixed-styblinskitang-4",
        "StyblinskiTang",
        {"dim": 4},
        (
            C("x", "float", 0.0, 1.0),
            C("c", "logfloat", 1e-2, 1e4),
            C("n", "int", 1, 16),
            C("m", "logint", 8, 2048),
        ),
        choices=4,
    ),
    Layout(
        "mixed-rastrigin-4",
        "Rastrigin",
        {"dim": 4},
        (
            C("x", "float", 0.0, 1.0),
            C("y", "float", 0.0, 1.0),
            C("n", "int", -5, 5),
            C("lr", "logfloat", 1e-7, 1e-2),
        ),
    ),
    Layout(
        "mixed-dixonprice-4",
        "DixonPrice",
        {"dim": 4},
        (
            C("x", "float", -1.0, 1.0),
            C("lr", "logfloat", 1e-6, 1.0),
            C("n", "logint", 1, 1000),
            C("b", "int", 0, 10),
        ),
    ),
    Layout(
        "mixed-hartmann-3",
        "Hartmann",
        {"dim": 3},
        (C("x", "float", 0.0, 1.0), C("lr", "logfloat", 1e-4, 10.0), C("n", "logint", 1, 256)),
        choices=6,
    ),
)


def space_of(layout: Layout, labels: list[str]) -> dict[str, dict[str, Any]]:
    space: dict[str, dict[str, Any]] = {c.name: c.spec() for c in layout.coordinates}
    space["kind"] = {"type": "categorical", "choices": labels}
    space["a_mode"] = {
        "type": "categorical",
        "choices": ["fine", "coarse"],
        "condition": {"kind": ["a"]},
    }
    low, high = WIDTH_RANGE
    space["a_width"] = {
        "type": "float",
        "low": low,
        "high": high,
        "log": True,
        "condition": {"a_mode": ["fine"]},
    }
    space["unused_x"] = {"type": "float", "low": 0.0, "high": 1.0, "log": False}
    space["unused_n"] = {"type": "int", "low": 1, "high": 100, "log": False}
    space["unused_c"] = {"type": "categorical", "choices": ["p", "q", "r", "s"]}
    return space


def function_for(layout: Layout) -> MixedFunction:
    """The layout's function; its placements are drawn from a stream seeded by its name."""
    base = function_of(layout.cls, layout.kwargs)
    if base.dim != len(layout.coordinates):
        raise ValueError(f"{layout.name}: {len(layout.coordinates)} coordinates for {base.dim}-D")
    rng = np.random.default_rng(list(layout.name.encode()))
    choices = _choices(layout.coordinates, layout.choices, rng)
    low, high = WIDTH_RANGE
    target = float(rng.uniform(math.log10(low) + 0.5, math.log10(high) - 0.5))
    return MixedFunction(base, layout.coordinates, choices, target)


def problems() -> list[Problem]:
    out = []
    for layout in LAYOUTS:
        function = function_for(layout)
        kinds = sorted({c.kind for c in layout.coordinates})
        out.append(
            Problem(
                name=layout.name,
                description=f"BoTorch {layout.cls} on {', '.join(kinds)} coordinates, "
                f"{layout.choices} placements by a categorical, a two-level conditional subtree",
                space=space_of(layout, [c.label for c in function.choices]),
                objectives=("f",),
                budget=BUDGET,
                evaluate=function,
                optimum=function.base.optimum,
                family="mixed",
            )
        )
    return out
